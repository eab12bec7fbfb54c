package httpapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/im-websocket-go/im-websocket-go/pkg/outbox"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// maxDeadLetterPage bounds GET /v1/admin/webhooks/dead-letters.
const maxDeadLetterPage = 100

// deadLetter is one dead delivery as the admin routes show it.
type deadLetter struct {
	ID        string `json:"id"`
	EventID   string `json:"event_id"`
	Endpoint  string `json:"endpoint"`
	Event     string `json:"event"`
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error"`
	CreatedAt string `json:"created_at"`
	Payload   []byte `json:"payload"`
}

func (s *Server) webhookOutbox(w http.ResponseWriter, r *http.Request) outbox.Outbox {
	ob := s.svc.WebhookOutbox()
	if ob == nil {
		s.writeError(w, r, protocol.Errorf(protocol.CodeNotFound, "no webhooks are configured"))
	}
	return ob
}

// deadLetters lists the oldest dead webhook deliveries (limit <= 100).
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	limit := maxDeadLetterPage
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDeadLetterPage {
			s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "limit must be 1-%d", maxDeadLetterPage))
			return
		}
		limit = n
	}
	ob := s.webhookOutbox(w, r)
	if ob == nil {
		return
	}
	es, err := ob.DeadLetters(r.Context(), limit)
	if err != nil {
		s.writeError(w, r, protocol.Unavailable(err))
		return
	}
	out := make([]deadLetter, len(es))
	for i, e := range es {
		out[i] = deadLetter{ID: e.ID, EventID: e.EventID, Endpoint: e.Endpoint, Event: e.Event, Attempts: e.Attempts,
			LastError: e.LastError, CreatedAt: e.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"), Payload: e.Payload}
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": out})
}

// replayDeadLetter queues a dead delivery again (attempts reset).
func (s *Server) replayDeadLetter(w http.ResponseWriter, r *http.Request) {
	ob := s.webhookOutbox(w, r)
	if ob == nil {
		return
	}
	// Ids hold a "/" (event id / endpoint): sent path-escaped.
	id, uerr := url.PathUnescape(chi.URLParam(r, "id"))
	if uerr != nil || len(id) == 0 || len(id) > 200 {
		s.writeError(w, r, protocol.Errorf(protocol.CodeNotFound, "no such dead letter"))
		return
	}
	err := ob.Replay(r.Context(), id)
	switch {
	case errors.Is(err, outbox.ErrNotFound):
		s.writeError(w, r, protocol.Errorf(protocol.CodeNotFound, "no such dead letter"))
	case err != nil:
		s.writeError(w, r, protocol.Unavailable(err))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
