package httpapi

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Group administration (docs/protocol.md §5, api/openapi.yaml).

// done answers 204 or the error.
func (s *Server) done(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) groupMembers(w http.ResponseWriter, r *http.Request) {
	limit, ok := s.limitParam(w, r, service.MaxMembersPage)
	if !ok {
		return
	}
	ms, next, err := s.svc.GroupMembers(r.Context(), userID(r), chi.URLParam(r, "id"), r.URL.Query().Get("after"), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]any{"members": ms}
	if next != "" {
		out["next"] = next
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) transferGroup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Account string `json:"account"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	s.done(w, r, s.svc.TransferOwnership(r.Context(), userID(r), chi.URLParam(r, "id"), in.Account))
}

func (s *Server) addAdmin(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.svc.SetAdmin(r.Context(), userID(r), chi.URLParam(r, "id"), chi.URLParam(r, "account"), true))
}

func (s *Server) removeAdmin(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.svc.SetAdmin(r.Context(), userID(r), chi.URLParam(r, "id"), chi.URLParam(r, "account"), false))
}

func (s *Server) muteMember(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DurationSeconds int64 `json:"duration_seconds"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if in.DurationSeconds <= 0 || in.DurationSeconds > int64(service.MaxMute/time.Second) {
		s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "duration_seconds must be %d-%d",
			int(service.MinMute/time.Second), int(service.MaxMute/time.Second)))
		return
	}
	until, err := s.svc.MuteMember(r.Context(), userID(r), chi.URLParam(r, "id"), chi.URLParam(r, "account"),
		time.Duration(in.DurationSeconds)*time.Second)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"muted_until": until})
}

func (s *Server) unmuteMember(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.svc.UnmuteMember(r.Context(), userID(r), chi.URLParam(r, "id"), chi.URLParam(r, "account")))
}

func (s *Server) muteAll(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.svc.SetMuteAll(r.Context(), userID(r), chi.URLParam(r, "id"), true))
}

func (s *Server) unmuteAll(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.svc.SetMuteAll(r.Context(), userID(r), chi.URLParam(r, "id"), false))
}

func (s *Server) setAnnouncement(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Text string `json:"text"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	a, err := s.svc.SetAnnouncement(r.Context(), userID(r), chi.URLParam(r, "id"), in.Text)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if a == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"announcement": a})
}

func (s *Server) clearAnnouncement(w http.ResponseWriter, r *http.Request) {
	_, err := s.svc.SetAnnouncement(r.Context(), userID(r), chi.URLParam(r, "id"), "")
	s.done(w, r, err)
}

func (s *Server) pins(w http.ResponseWriter, r *http.Request) {
	ps, err := s.svc.Pins(r.Context(), userID(r), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pins": ps})
}

func (s *Server) pin(w http.ResponseWriter, r *http.Request) {
	if seq, ok := s.seqParam(w, r); ok {
		s.done(w, r, s.svc.Pin(r.Context(), userID(r), chi.URLParam(r, "id"), seq))
	}
}

func (s *Server) unpin(w http.ResponseWriter, r *http.Request) {
	if seq, ok := s.seqParam(w, r); ok {
		s.done(w, r, s.svc.Unpin(r.Context(), userID(r), chi.URLParam(r, "id"), seq))
	}
}

func (s *Server) requestToJoin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Message string `json:"message"`
	}
	if r.ContentLength != 0 && !s.decode(w, r, &in) {
		return
	}
	v, err := s.svc.RequestToJoin(r.Context(), userID(r), chi.URLParam(r, "id"), in.Message)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"request": v})
}

func (s *Server) joinRequests(w http.ResponseWriter, r *http.Request) {
	rs, err := s.svc.JoinRequests(r.Context(), userID(r), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": rs})
}

func (s *Server) approveJoinRequest(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.svc.AnswerJoinRequest(r.Context(), userID(r), chi.URLParam(r, "id"), chi.URLParam(r, "account"), true))
}

// declineJoinRequest declines someone's request (owner, admins) or
// withdraws the caller's own.
func (s *Server) declineJoinRequest(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.svc.DeclineOrCancelJoinRequest(r.Context(), userID(r), chi.URLParam(r, "id"), chi.URLParam(r, "account")))
}

func (s *Server) createInvite(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ExpiresInSeconds int64 `json:"expires_in_seconds"`
		MaxUses          int   `json:"max_uses"`
	}
	if r.ContentLength != 0 && !s.decode(w, r, &in) {
		return
	}
	if in.ExpiresInSeconds < 0 || in.ExpiresInSeconds > int64(service.MaxInviteTTL/time.Second) {
		s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "expires_in_seconds must be %d-%d",
			int(service.MinInviteTTL/time.Second), int(service.MaxInviteTTL/time.Second)))
		return
	}
	v, err := s.svc.CreateInvite(r.Context(), userID(r), chi.URLParam(r, "id"),
		time.Duration(in.ExpiresInSeconds)*time.Second, in.MaxUses)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"invite": v})
}

func (s *Server) invites(w http.ResponseWriter, r *http.Request) {
	vs, err := s.svc.Invites(r.Context(), userID(r), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"invites": vs})
}

func (s *Server) revokeInvite(w http.ResponseWriter, r *http.Request) {
	s.done(w, r, s.svc.RevokeInvite(r.Context(), userID(r), chi.URLParam(r, "id"), chi.URLParam(r, "invite")))
}

func (s *Server) joinByInvite(w http.ResponseWriter, r *http.Request) {
	g, err := s.svc.JoinByInvite(r.Context(), userID(r), chi.URLParam(r, "token"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": g})
}
