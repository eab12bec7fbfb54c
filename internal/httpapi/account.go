package httpapi

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
)

// Account lifecycle: password reset and change, email change, sessions,
// account deletion.

// device is the session label: the body's device field, else the
// User-Agent (auth.DeviceLabel cleans and bounds it).
func device(r *http.Request, field string) string {
	if field != "" {
		return field
	}
	return r.UserAgent()
}

func (s *Server) passwordReset(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if err := s.svc.RequestPasswordReset(r.Context(), in.Email, s.clientIP(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
}

func (s *Server) passwordResetConfirm(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email       string `json:"email"`
		Code        string `json:"code"`
		NewPassword string `json:"new_password"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if err := s.svc.ConfirmPasswordReset(r.Context(), in.Email, in.Code, in.NewPassword); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		CurrentPassword string `json:"current_password"`
		NewPassword     string `json:"new_password"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if err := s.svc.ChangePassword(r.Context(), userID(r), sessionID(r), in.CurrentPassword, in.NewPassword); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) emailChangeCode(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if err := s.svc.RequestEmailChange(r.Context(), userID(r), in.Email, s.clientIP(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
}

func (s *Server) changeEmail(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
		Code  string `json:"code"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	u, err := s.svc.ChangeEmail(r.Context(), userID(r), in.Email, in.Code)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, meView(u))
}

func (s *Server) sessions(w http.ResponseWriter, r *http.Request) {
	ss, err := s.svc.Sessions(r.Context(), userID(r), sessionID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Sessions []service.SessionView `json:"sessions"`
	}{ss})
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.EndSession(r.Context(), userID(r), chi.URLParam(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) logoutAll(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.LogoutAll(r.Context(), userID(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) deleteMe(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Password string `json:"password"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if err := s.svc.DeleteAccount(r.Context(), userID(r), in.Password); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) usersByID(w http.ResponseWriter, r *http.Request) {
	var ids []string
	if q := r.URL.Query().Get("ids"); q != "" {
		ids = strings.Split(q, ",")
	}
	us, err := s.svc.UsersByIDs(r.Context(), ids)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Users any `json:"users"`
	}{us})
}

// presence answers GET /v1/presence?users=id1,id2[&room_id=R].
func (s *Server) presence(w http.ResponseWriter, r *http.Request) {
	var ids []string
	q := r.URL.Query()
	if v := q.Get("users"); v != "" {
		ids = strings.Split(v, ",")
	}
	ps, err := s.svc.Presence(r.Context(), userID(r), ids, q.Get("room_id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, struct {
		Presence any `json:"presence"`
	}{ps})
}
