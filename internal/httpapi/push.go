package httpapi

import (
	"net/http"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
)

// Push tokens of the caller's session (service/push.go). The token is
// always named in a JSON body, never in the URL: a token may hold any
// character (a Web Push subscription is JSON), and URLs end up in logs.

// pushTokenBody is the body of POST and DELETE /v1/me/push-tokens.
type pushTokenBody struct {
	Platform string `json:"platform"`
	Token    string `json:"token"`
}

// addPushToken answers 201 with a token new to the session, 200 with one
// it had already.
func (s *Server) addPushToken(w http.ResponseWriter, r *http.Request) {
	var in pushTokenBody
	if !s.decode(w, r, &in) {
		return
	}
	v, created, err := s.svc.AddPushToken(r.Context(), userID(r), sessionID(r), in.Platform, in.Token)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, v)
}

func (s *Server) pushTokens(w http.ResponseWriter, r *http.Request) {
	ps, err := s.svc.PushTokens(r.Context(), userID(r), sessionID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		PushTokens []service.PushTokenView `json:"push_tokens"`
	}{ps})
}

func (s *Server) removePushToken(w http.ResponseWriter, r *http.Request) {
	var in pushTokenBody
	if !s.decode(w, r, &in) {
		return
	}
	if err := s.svc.RemovePushToken(r.Context(), userID(r), in.Platform, in.Token); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
