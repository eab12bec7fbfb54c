package httpapi

import (
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
)

// changeInput reads the room, the message's seq and, for reactions, the
// emoji of a change route; the caller adds the rest. The change counts
// against the send rate.
func (s *Server) changeInput(w http.ResponseWriter, r *http.Request, clientMsgID string) (service.ChangeInput, bool) {
	seq, ok := s.seqParam(w, r)
	if !ok {
		return service.ChangeInput{}, false
	}
	uid := userID(r)
	if err := s.svc.AllowSend(r.Context(), uid); err != nil {
		s.writeError(w, r, err)
		return service.ChangeInput{}, false
	}
	return service.ChangeInput{UserID: uid, RoomID: chi.URLParam(r, "id"), Seq: seq,
		ClientMsgID: clientMsgID, Emoji: emojiParam(r)}, true
}

// emojiParam is the route's emoji, percent-decoded. chi matches the raw
// path when its escaping is not Go's own (lowercase hex, say), and then
// leaves the parameter escaped.
func emojiParam(r *http.Request) string {
	e := chi.URLParam(r, "emoji")
	if d, err := url.PathUnescape(e); err == nil {
		return d
	}
	return e
}

func (s *Server) editMessage(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Body        string `json:"body"`
		ClientMsgID string `json:"client_msg_id"`
	}
	if !s.decode(w, r, &body) {
		return
	}
	in, ok := s.changeInput(w, r, body.ClientMsgID)
	if !ok {
		return
	}
	in.Body = body.Body
	m, dup, err := s.svc.Edit(r.Context(), in)
	s.writeStored(w, r, m, dup, err)
}

func (s *Server) recallMessage(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ClientMsgID string `json:"client_msg_id"`
	}
	if !s.decode(w, r, &body) {
		return
	}
	in, ok := s.changeInput(w, r, body.ClientMsgID)
	if !ok {
		return
	}
	m, dup, err := s.svc.Recall(r.Context(), in)
	s.writeStored(w, r, m, dup, err)
}

func (s *Server) react(w http.ResponseWriter, r *http.Request)   { s.reaction(w, r, true) }
func (s *Server) unreact(w http.ResponseWriter, r *http.Request) { s.reaction(w, r, false) }

// reaction adds or removes one; client_msg_id is a query parameter.
func (s *Server) reaction(w http.ResponseWriter, r *http.Request, add bool) {
	in, ok := s.changeInput(w, r, r.URL.Query().Get("client_msg_id"))
	if !ok {
		return
	}
	m, dup, err := s.svc.React(r.Context(), in, add)
	s.writeStored(w, r, m, dup, err)
}

func (s *Server) reactors(w http.ResponseWriter, r *http.Request) {
	seq, ok := s.seqParam(w, r)
	if !ok {
		return
	}
	limit, ok := s.limitParam(w, r, service.MaxPage)
	if !ok {
		return
	}
	rs, more, err := s.svc.Reactors(r.Context(), userID(r), chi.URLParam(r, "id"), seq, emojiParam(r),
		r.URL.Query().Get("after"), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	type reactor struct {
		UserID    string `json:"user_id"`
		CreatedAt string `json:"created_at"`
	}
	out := make([]reactor, len(rs))
	for i, x := range rs {
		out[i] = reactor{UserID: x.UserID, CreatedAt: x.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	}
	writeJSON(w, http.StatusOK, map[string]any{"reactors": out, "has_more": more})
}

func (s *Server) hideMessages(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Seqs []int64 `json:"seqs"`
	}
	if !s.decode(w, r, &body) {
		return
	}
	if err := s.svc.Hide(r.Context(), userID(r), chi.URLParam(r, "id"), body.Seqs); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
