package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// The admin API's handlers: every route is behind requireAdmin
// (adminauth.go), mounted under /v1/admin in server.go.

func (s *Server) adminProvision(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Account  string `json:"account"`
		Nickname string `json:"nickname"`
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	u, err := s.svc.AdminProvision(r.Context(), service.ProvisionInput{Account: in.Account, Nickname: in.Nickname,
		Email: in.Email, Password: in.Password})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": u})
}

// afterParam reads the query's paging cursor: "" or an id.
func (s *Server) afterParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	after := r.URL.Query().Get("after")
	if after != "" {
		if err := protocol.ValidID("after", after); err != nil {
			s.writeError(w, r, err)
			return "", false
		}
	}
	return after, true
}

func (s *Server) adminUsers(w http.ResponseWriter, r *http.Request) {
	after, ok := s.afterParam(w, r)
	if !ok {
		return
	}
	limit, ok := s.limitParam(w, r, service.MaxPage)
	if !ok {
		return
	}
	us, more, err := s.svc.AdminUsers(r.Context(), after, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]any{"users": us, "has_more": more}
	if more {
		out["next_after"] = us[len(us)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) adminUser(w http.ResponseWriter, r *http.Request) {
	u, err := s.svc.AdminUserByID(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": u})
}

func (s *Server) adminMintTokens(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Device string `json:"device"`
	}
	if r.ContentLength != 0 && !s.decode(w, r, &in) {
		return
	}
	if in.Device == "" {
		in.Device = "admin API"
	}
	sess, err := s.svc.AdminMintTokens(r.Context(), chi.URLParam(r, "id"), in.Device, s.clientIP(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSession(w, http.StatusCreated, sess)
}

func (s *Server) adminBan(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 && !s.decode(w, r, &in) {
		return
	}
	u, err := s.svc.Ban(r.Context(), chi.URLParam(r, "id"), in.Reason)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user": u})
}

func (s *Server) adminUnban(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Unban(r.Context(), chi.URLParam(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) adminLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.AdminLogout(r.Context(), chi.URLParam(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type noticeBody struct {
	Text string `json:"text"`
}

func (s *Server) adminUserNotice(w http.ResponseWriter, r *http.Request) {
	var in noticeBody
	if !s.decode(w, r, &in) {
		return
	}
	n, err := s.svc.AdminUserNotice(r.Context(), chi.URLParam(r, "id"), in.Text)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"notice": n})
}

func (s *Server) adminBroadcast(w http.ResponseWriter, r *http.Request) {
	var in noticeBody
	if !s.decode(w, r, &in) {
		return
	}
	n, err := s.svc.AdminBroadcast(r.Context(), in.Text)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"notice": n})
}

func (s *Server) adminRoomList(w http.ResponseWriter, r *http.Request, groupsOnly bool, key string) {
	after, ok := s.afterParam(w, r)
	if !ok {
		return
	}
	limit, ok := s.limitParam(w, r, service.MaxPage)
	if !ok {
		return
	}
	rs, more, err := s.svc.AdminRooms(r.Context(), after, groupsOnly, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]any{key: rs, "has_more": more}
	if more {
		out["next_after"] = rs[len(rs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) adminGroups(w http.ResponseWriter, r *http.Request) {
	s.adminRoomList(w, r, true, "groups")
}
func (s *Server) adminRooms(w http.ResponseWriter, r *http.Request) {
	s.adminRoomList(w, r, false, "rooms")
}

func (s *Server) adminRoomMessage(w http.ResponseWriter, r *http.Request) {
	var in noticeBody
	if !s.decode(w, r, &in) {
		return
	}
	m, err := s.svc.AdminRoomMessage(r.Context(), chi.URLParam(r, "id"), in.Text)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"message": protocol.FromStore(m)})
}

func (s *Server) adminDeleteMessage(w http.ResponseWriter, r *http.Request) {
	seq, ok := s.seqParam(w, r)
	if !ok {
		return
	}
	ev, err := s.svc.AdminDeleteMessage(r.Context(), chi.URLParam(r, "id"), seq, r.URL.Query().Get("reason"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"event": protocol.FromStore(ev)})
}

func (s *Server) adminStats(w http.ResponseWriter, r *http.Request) {
	minutes := int64(10)
	if r.URL.Query().Get("minutes") != "" {
		n, err := queryInt(r, "minutes")
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		minutes = n
	}
	if minutes > 1000 {
		minutes = 1000 // AdminStats answers the bound
	}
	st, err := s.svc.AdminStats(r.Context(), int(minutes))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}
