package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

type sessionView struct {
	User         protocol.User `json:"user"`
	AccessToken  string        `json:"access_token"`
	RefreshToken string        `json:"refresh_token"`
	ExpiresIn    int           `json:"expires_in"`
	TokenType    string        `json:"token_type"`
	SessionID    string        `json:"session_id"`
}

func meView(u *store.User) protocol.User {
	v := protocol.PublicUser(u)
	v.Email = u.Email
	hide := u.HidePresence
	v.HidePresence = &hide
	return v
}

func writeSession(w http.ResponseWriter, status int, s *service.Session) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, sessionView{User: meView(s.User), AccessToken: s.AccessToken,
		RefreshToken: s.RefreshToken, ExpiresIn: s.ExpiresIn, TokenType: "Bearer", SessionID: s.SessionID})
}

func (s *Server) emailCode(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if err := s.svc.RequestEmailCode(r.Context(), in.Email, s.clientIP(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Code     string `json:"code"`
		Account  string `json:"account"`
		Password string `json:"password"`
		Nickname string `json:"nickname"`
		Device   string `json:"device"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	sess, err := s.svc.Register(r.Context(), service.RegisterInput{Email: in.Email, Code: in.Code,
		Account: in.Account, Password: in.Password, Nickname: in.Nickname, Device: device(r, in.Device)}, s.clientIP(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSession(w, http.StatusCreated, sess)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Login    string `json:"login"`
		Password string `json:"password"`
		Device   string `json:"device"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	sess, err := s.svc.Login(r.Context(), in.Login, in.Password, device(r, in.Device), s.clientIP(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSession(w, http.StatusOK, sess)
}

type refreshBody struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	var in refreshBody
	if !s.decode(w, r, &in) {
		return
	}
	sess, err := s.svc.Refresh(r.Context(), in.RefreshToken, s.clientIP(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeSession(w, http.StatusOK, sess)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	var in refreshBody
	if !s.decode(w, r, &in) {
		return
	}
	if err := s.svc.Logout(r.Context(), in.RefreshToken); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	u, err := s.svc.Me(r.Context(), userID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, meView(u))
}

func (s *Server) updateMe(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Nickname *string `json:"nickname"`
		Avatar   *string `json:"avatar"`
		Sex      *int    `json:"sex"`
		// HidePresence sets the presence privacy setting.
		HidePresence *bool `json:"hide_presence"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	u, err := s.svc.UpdateProfile(r.Context(), userID(r), service.ProfileInput{Nickname: in.Nickname, Avatar: in.Avatar, Sex: in.Sex,
		HidePresence: in.HidePresence})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, meView(u))
}

func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	u, isFriend, err := s.svc.LookupUser(r.Context(), userID(r), chi.URLParam(r, "account"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		protocol.User
		IsFriend bool `json:"is_friend"`
	}{protocol.PublicUser(u), isFriend})
}

func (s *Server) friends(w http.ResponseWriter, r *http.Request) {
	fs, err := s.svc.Friends(r.Context(), userID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]service.FriendView, len(fs))
	for i := range fs {
		out[i] = fs[i].View()
	}
	writeJSON(w, http.StatusOK, map[string]any{"friends": out})
}

func (s *Server) isFriend(w http.ResponseWriter, r *http.Request) {
	ok, room, err := s.svc.IsFriend(r.Context(), userID(r), chi.URLParam(r, "account"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		IsFriend bool   `json:"is_friend"`
		RoomID   string `json:"room_id,omitempty"`
	}{ok, room})
}

func (s *Server) deleteFriend(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.DeleteFriend(r.Context(), userID(r), chi.URLParam(r, "account")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) sendFriendRequest(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Account string `json:"account"`
		Message string `json:"message"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if in.Account == "" {
		s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "account is required"))
		return
	}
	req, friend, err := s.svc.SendFriendRequest(r.Context(), userID(r), in.Account, in.Message)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if friend != nil {
		writeJSON(w, http.StatusOK, map[string]any{"friend": friend.View()})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"request": req.View()})
}

func (s *Server) friendRequests(w http.ResponseWriter, r *http.Request) {
	in, out, err := s.svc.FriendRequests(r.Context(), userID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	views := func(rs []service.Request) []service.RequestView {
		v := make([]service.RequestView, len(rs))
		for i := range rs {
			v[i] = rs[i].View()
		}
		return v
	}
	writeJSON(w, http.StatusOK, map[string]any{"incoming": views(in), "outgoing": views(out)})
}

func (s *Server) acceptFriendRequest(w http.ResponseWriter, r *http.Request) {
	f, err := s.svc.AcceptFriendRequest(r.Context(), userID(r), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"friend": f.View()})
}

func (s *Server) declineFriendRequest(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.DeclineFriendRequest(r.Context(), userID(r), chi.URLParam(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name    string   `json:"name"`
		Info    string   `json:"info"`
		Members []string `json:"members"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	g, err := s.svc.CreateGroup(r.Context(), userID(r), in.Name, in.Info, in.Members)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"group": g})
}

func (s *Server) groups(w http.ResponseWriter, r *http.Request) {
	gs, err := s.svc.Groups(r.Context(), userID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": gs})
}

func (s *Server) group(w http.ResponseWriter, r *http.Request) {
	g, err := s.svc.Group(r.Context(), userID(r), chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": g})
}

func (s *Server) addGroupMembers(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Accounts []string `json:"accounts"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	g, err := s.svc.AddGroupMembers(r.Context(), userID(r), chi.URLParam(r, "id"), in.Accounts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"group": g})
}

func (s *Server) removeGroupMember(w http.ResponseWriter, r *http.Request) {
	err := s.svc.RemoveGroupMember(r.Context(), userID(r), chi.URLParam(r, "id"), chi.URLParam(r, "account"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) disbandGroup(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.DisbandGroup(r.Context(), userID(r), chi.URLParam(r, "id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) conversations(w http.ResponseWriter, r *http.Request) {
	cs, err := s.svc.Conversations(r.Context(), userID(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversations": cs})
}

// queryInt reads a non-negative integer query parameter (0 when absent).
func queryInt(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, protocol.Errorf(protocol.CodeInvalidArgument, "%s must be a non-negative integer", name)
	}
	return n, nil
}

// seqParam reads the route's seq, answering a bad one.
func (s *Server) seqParam(w http.ResponseWriter, r *http.Request) (int64, bool) {
	seq, err := strconv.ParseInt(chi.URLParam(r, "seq"), 10, 64)
	if err != nil || seq < 1 {
		s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "seq must be the seq of a message"))
		return 0, false
	}
	return seq, true
}

// limitParam reads the query's limit (0 when absent: the service's
// default), answering one that is negative or above most.
func (s *Server) limitParam(w http.ResponseWriter, r *http.Request, most int) (int, bool) {
	limit, err := queryInt(r, "limit")
	if err == nil && limit > int64(most) {
		err = protocol.Errorf(protocol.CodeInvalidArgument, "limit must be at most %d", most)
	}
	if err != nil {
		s.writeError(w, r, err)
		return 0, false
	}
	return int(limit), true
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	var vals [3]int64
	for i, name := range []string{"before", "after", "limit"} {
		n, err := queryInt(r, name)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		vals[i] = n
	}
	before, after, limit := vals[0], vals[1], vals[2]
	if limit > service.MaxPage {
		s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "limit must be at most %d", service.MaxPage))
		return
	}
	if before > 0 && r.URL.Query().Has("after") {
		s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "give before or after, not both"))
		return
	}
	roomID, uid := chi.URLParam(r, "id"), userID(r)
	var p service.Page
	var err error
	if r.URL.Query().Has("after") {
		p, err = s.svc.After(r.Context(), uid, roomID, after, int(limit), true)
	} else {
		p, err = s.svc.Before(r.Context(), uid, roomID, before, int(limit))
	}
	if err == nil {
		err = s.svc.Decorate(r.Context(), uid, roomID, &p, true)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	msgs := make([]protocol.Message, len(p.Messages))
	for i := range p.Messages {
		msgs[i] = p.Wire(i)
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs, "has_more": p.HasMore})
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Body        string          `json:"body"`
		ClientMsgID string          `json:"client_msg_id"`
		Kind        string          `json:"kind"`
		ReplyTo     int64           `json:"reply_to"`
		Mentions    []string        `json:"mentions"`
		FileID      string          `json:"file_id"`
		Data        json.RawMessage `json:"data"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	uid := userID(r)
	if err := s.svc.AllowSend(r.Context(), uid); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, dup, err := s.svc.Send(r.Context(), service.SendInput{UserID: uid, RoomID: chi.URLParam(r, "id"),
		Body: in.Body, ClientMsgID: in.ClientMsgID, Kind: in.Kind, ReplyTo: in.ReplyTo,
		Mentions: in.Mentions, FileID: in.FileID, Data: in.Data})
	s.writeStored(w, r, m, dup, err)
}

// writeStored answers a send or a change: 201 with the stored message, 200
// with the first one for a repeated client_msg_id.
func (s *Server) writeStored(w http.ResponseWriter, r *http.Request, m *store.Message, dup bool, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusCreated
	if dup {
		status = http.StatusOK
	}
	writeJSON(w, status, protocol.FromStore(m))
}

func (s *Server) markRead(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Seq *int64 `json:"seq"`
	}
	if !s.decode(w, r, &in) {
		return
	}
	if in.Seq == nil {
		s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "seq is required"))
		return
	}
	if err := s.svc.MarkRead(r.Context(), userID(r), chi.URLParam(r, "id"), *in.Seq); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
