package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
)

// readers answers GET /v1/rooms/{id}/messages/{seq}/readers.
func (s *Server) readers(w http.ResponseWriter, r *http.Request) {
	seq, ok := s.seqParam(w, r)
	if !ok {
		return
	}
	limit, ok := s.limitParam(w, r, service.MaxReadersPage)
	if !ok {
		return
	}
	p, err := s.svc.Readers(r.Context(), userID(r), chi.URLParam(r, "id"), seq, r.URL.Query().Get("after"), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// blocks answers GET /v1/blocks.
func (s *Server) blocks(w http.ResponseWriter, r *http.Request) {
	bs, err := s.svc.Blocks(r.Context(), userID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"blocks": bs})
}

// block answers PUT /v1/blocks/{account}.
func (s *Server) block(w http.ResponseWriter, r *http.Request) {
	b, err := s.svc.Block(r.Context(), userID(r), chi.URLParam(r, "account"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// unblock answers DELETE /v1/blocks/{account}.
func (s *Server) unblock(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Unblock(r.Context(), userID(r), chi.URLParam(r, "account")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
