package service

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// The admin API's rules (internal/httpapi/admin.go serves them to callers
// holding an admin key). Every action here is the operator's: there is no
// calling user, and the checks a user meets (membership, recall window)
// do not apply.

// Reasons of the session_revoked events the admin API sends.
const (
	RevokedBanned  = "banned"
	RevokedByAdmin = "signed_out_by_admin"
)

// Field limits of the admin API.
const (
	MaxBanReason  = 500
	MaxNoticeText = 2000
)

// AdminUser is a user as the admin API shows it: the public profile, the
// email and the ban, if any.
type AdminUser struct {
	protocol.User
	Email     string     `json:"email"`
	Banned    bool       `json:"banned"`
	BanReason string     `json:"ban_reason,omitempty"`
	BannedAt  *time.Time `json:"banned_at,omitempty"`
}

func adminUser(u *store.User, b *store.Ban) AdminUser {
	out := AdminUser{User: protocol.PublicUser(u), Email: u.Email}
	if u.Deleted() {
		out.Email = ""
	}
	if b != nil {
		t := b.CreatedAt.UTC()
		out.Banned, out.BanReason, out.BannedAt = true, b.Reason, &t
	}
	return out
}

// ProvisionedEmail is the email of a user provisioned without one: unique,
// and never deliverable (.invalid is reserved).
func ProvisionedEmail(id string) string { return strings.ToLower(id) + "@provisioned.invalid" }

// ProvisionInput is the body of POST /v1/admin/users.
type ProvisionInput struct {
	Account, Nickname, Email, Password string
}

// AdminProvision creates a user without the email code flow. Without an
// email the user gets ProvisionedEmail; without a password, a random one
// nobody knows (the host app then mints the user's tokens).
func (s *Service) AdminProvision(ctx context.Context, in ProvisionInput) (*AdminUser, error) {
	account := strings.ToLower(strings.TrimSpace(in.Account))
	if !validAccount(account) {
		return nil, invalid("account must be 3-32 characters of a-z, 0-9, _, . and -")
	}
	nick := strings.TrimSpace(in.Nickname)
	if nick == "" {
		nick = account
	}
	if err := validNickname(nick); err != nil {
		return nil, err
	}
	id := s.newID()
	email := ProvisionedEmail(id)
	if in.Email != "" {
		e, ok := normalizeEmail(in.Email)
		if !ok {
			return nil, invalid("email is not a valid address")
		}
		email = e
	}
	password := in.Password
	if password == "" {
		var b [32]byte
		_, _ = rand.Read(b[:])
		password = base64.RawURLEncoding.EncodeToString(b[:])
	} else if err := validPassword(password); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return nil, err
	}
	now := s.nowUTC()
	u := &store.User{ID: id, Account: account, Email: email, PasswordHash: hash, Nickname: nick, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return nil, protocol.Errorf(protocol.CodeConflict, "account or email is taken")
		}
		return nil, storeErr("provision", err)
	}
	v := adminUser(u, nil)
	return &v, nil
}

// adminTarget finds a live user by id for an admin action.
func (s *Service) adminTarget(ctx context.Context, uid string) (*store.User, error) {
	if err := protocol.ValidID("id", uid); err != nil {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such user")
	}
	u, err := s.st.UserByID(ctx, uid)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Deleted() {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such user")
	}
	return u, storeErr("admin", err)
}

// AdminUserByID returns one user with their ban.
func (s *Service) AdminUserByID(ctx context.Context, uid string) (*AdminUser, error) {
	if err := protocol.ValidID("id", uid); err != nil {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such user")
	}
	u, err := s.st.UserByID(ctx, uid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such user")
	}
	if err != nil {
		return nil, storeErr("admin", err)
	}
	b, err := s.banOf(ctx, uid)
	if err != nil {
		return nil, err
	}
	v := adminUser(u, b)
	return &v, nil
}

// banOf returns the user's ban, nil when none.
func (s *Service) banOf(ctx context.Context, uid string) (*store.Ban, error) {
	b, err := s.st.BanOf(ctx, uid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return b, storeErr("ban", err)
}

var errBanned = protocol.Errorf(protocol.CodeForbidden, "the account is banned")

// checkNotBanned answers forbidden for a banned user.
func (s *Service) checkNotBanned(ctx context.Context, uid string) error {
	b, err := s.banOf(ctx, uid)
	if err != nil {
		return err
	}
	if b != nil {
		return errBanned
	}
	return nil
}

// AdminMintTokens starts a session for the user, as a login does, for host
// apps that keep their own login. A banned user gets forbidden.
func (s *Service) AdminMintTokens(ctx context.Context, uid, device, ip string) (*Session, error) {
	u, err := s.adminTarget(ctx, uid)
	if err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(device) > 200 {
		return nil, invalid("device must be at most 200 characters")
	}
	return s.startSession(ctx, u, auth.SessionInfo{Device: device, IP: ip})
}

// Ban bans a user: the ban is stored first (logins, refreshes and minted
// tokens are refused from then on), then every session is revoked and
// every socket of the user closes (session_revoked with all, reason
// "banned"). Banning again replaces the reason and revokes again, so a
// call answered unavailable may be retried.
func (s *Service) Ban(ctx context.Context, uid, reason string) (*AdminUser, error) {
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > MaxBanReason || !utf8.ValidString(reason) {
		return nil, invalid("reason must be at most %d characters", MaxBanReason)
	}
	u, err := s.adminTarget(ctx, uid)
	if err != nil {
		return nil, err
	}
	b := &store.Ban{UserID: uid, Reason: reason, CreatedAt: s.nowUTC()}
	if err := s.st.PutBan(ctx, b); err != nil {
		return nil, storeErr("ban", err)
	}
	if err := s.revokeEverything(ctx, uid, RevokedBanned); err != nil {
		return nil, err
	}
	v := adminUser(u, b)
	return &v, nil
}

// Unban lifts a user's ban: they may log in again (their old sessions stay
// ended). not_found when the user is not banned.
func (s *Service) Unban(ctx context.Context, uid string) error {
	if _, err := s.adminTarget(ctx, uid); err != nil {
		return err
	}
	err := s.st.DeleteBan(ctx, uid)
	if errors.Is(err, store.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, "the user is not banned")
	}
	return storeErr("unban", err)
}

// AdminLogout ends every session of the user and closes every socket
// (session_revoked with all, reason "signed_out_by_admin").
func (s *Service) AdminLogout(ctx context.Context, uid string) error {
	if _, err := s.adminTarget(ctx, uid); err != nil {
		return err
	}
	return s.revokeEverything(ctx, uid, RevokedByAdmin)
}

// revokeEverything revokes every session of uid in the store and the KV,
// refuses the user's older tokens that name no session, and announces a
// session_revoked event with all set, on which every gateway closes every
// socket of the user. Idempotent.
func (s *Service) revokeEverything(ctx context.Context, uid, reason string) error {
	ss, err := s.st.SessionsOf(ctx, uid)
	if err != nil {
		return storeErr("sessions", err)
	}
	ids := make([]string, 0, len(ss))
	for _, x := range ss {
		ids = append(ids, x.ID)
	}
	if err := s.revokeQuietly(ctx, ids); err != nil {
		return err
	}
	cut := strconv.FormatInt(s.now().Unix(), 10)
	if err := s.kv.Set(ctx, userKey(uid), cut, s.revocationTTL()); err != nil {
		return protocol.Unavailable(err)
	}
	s.event(ctx, protocol.EventSessionRevoked, "-", RevokedEvent{SessionIDs: ids, All: true, Reason: reason}, uid)
	return nil
}

// refuseIfBanned is called right after a session was started (or
// refreshed) for uid: a banned user's session is revoked at once and
// forbidden answered. Checking after the session is stored (not before)
// closes the race with a concurrent Ban: either this read sees the ban, or
// the ban's revocation lists this session. When the ban cannot be read, a
// new session (failOpen false: a login) is revoked and unavailable
// answered; a refreshed one (failOpen true) is kept, since its refresh
// token was already rotated and a ban revokes it anyway.
func (s *Service) refuseIfBanned(ctx context.Context, uid, sid string, failOpen bool) error {
	b, err := s.banOf(ctx, uid)
	if b == nil && (err == nil || failOpen) {
		if err != nil {
			s.log.Warn("could not read a ban at refresh", zap.Error(err))
		}
		return nil
	}
	if rerr := s.revokeQuietly(context.WithoutCancel(ctx), []string{sid}); rerr != nil {
		s.log.Warn("revoke a banned user's new session", zap.Error(rerr))
	}
	if err != nil {
		return err
	}
	return errBanned
}

// AdminDeleteMessage removes any message for moderation: like a recall
// (its body, extra and mentions are deleted, access to its files removed,
// clients show it as removed), by the operator at any time. The recall
// event is stored from no user (from "") with extra {"moderation":true,
// "reason":...} and the client_msg_id "mod-<room>-<seq>", so a repeated
// call stores nothing new and returns the first event.
func (s *Service) AdminDeleteMessage(ctx context.Context, roomID string, seq int64, reason string) (*store.Message, error) {
	if err := protocol.ValidID("room_id", roomID); err != nil {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such message")
	}
	if seq < 1 {
		return nil, invalid("seq must be the seq of a message")
	}
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > MaxBanReason || !utf8.ValidString(reason) {
		return nil, invalid("reason must be at most %d characters", MaxBanReason)
	}
	ctx, cancel := context.WithTimeout(ctx, s.lim.StoreTimeout)
	defer cancel()
	target, err := s.st.MessageAt(ctx, roomID, seq)
	if errors.Is(err, store.ErrNotFound) || err == nil && (target.Hole || target.IsEvent()) {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such message")
	}
	if err != nil {
		return nil, storeErr("moderation", err)
	}
	if err := s.st.RecallMessage(ctx, roomID, seq); err != nil {
		return nil, storeErr("moderation", err)
	}
	fs, err := s.st.FilesOfMessage(ctx, roomID, seq)
	if err != nil {
		return nil, storeErr("moderation", err)
	}
	for _, f := range fs {
		if err := s.st.MarkFileDeleted(ctx, f.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, storeErr("moderation", err)
		}
	}
	extra, _ := json.Marshal(map[string]any{"moderation": true, "reason": reason})
	cmid := "mod-" + roomID + "-" + strconv.FormatInt(seq, 10)
	ev := &store.Message{RoomID: roomID, Body: "", ClientMsgID: cmid, Kind: store.KindRecall, Target: seq, Extra: string(extra)}
	m, _, err := s.commit(ctx, cmid, ev, nil)
	return m, err
}

// AdminRoomMessage writes a system message (kind system, from no user,
// client_msg_id sys-<id>) to a room: every member sees it live and in the
// history. extra: {"event":"admin_notice","text":...}.
func (s *Service) AdminRoomMessage(ctx context.Context, roomID, text string) (*store.Message, error) {
	if err := validNotice(text); err != nil {
		return nil, err
	}
	if err := protocol.ValidID("room_id", roomID); err != nil {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such room")
	}
	r, err := s.st.RoomByID(ctx, roomID)
	if errors.Is(err, store.ErrNotFound) || err == nil && r.Disbanded {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such room")
	}
	if err != nil {
		return nil, storeErr("system message", err)
	}
	extra, _ := json.Marshal(map[string]any{"event": "admin_notice"})
	m := &store.Message{RoomID: roomID, Body: text, Kind: store.KindSystem, Extra: string(extra), ClientMsgID: "sys-" + s.newID()}
	out, _, err := s.commit(ctx, m.ClientMsgID, m, nil)
	return out, err
}

func validNotice(text string) error {
	if strings.TrimSpace(text) == "" || utf8.RuneCountInString(text) > MaxNoticeText || !utf8.ValidString(text) {
		return invalid("text must be 1-%d characters", MaxNoticeText)
	}
	return nil
}

// Notice is the data of a system_notice event.
type Notice struct {
	ID        string    `json:"id"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

// AdminUserNotice sends a system_notice event to every connected device
// of a user. It is live only: not stored, not replayed by sync (a lasting
// notice goes to a room).
func (s *Service) AdminUserNotice(ctx context.Context, uid, text string) (*Notice, error) {
	if err := validNotice(text); err != nil {
		return nil, err
	}
	if _, err := s.adminTarget(ctx, uid); err != nil {
		return nil, err
	}
	n := &Notice{ID: s.newID(), Text: text, CreatedAt: s.nowUTC()}
	s.event(ctx, protocol.EventSystemNotice, "-", n, uid)
	return n, nil
}

// broadcastPage is how many users one step of a broadcast reads.
const broadcastPage = 500

// maxBroadcastTime bounds one broadcast.
const maxBroadcastTime = 10 * time.Minute

// AdminBroadcast sends a system_notice event to every user (deleted and
// banned ones skipped), in the background: a page of users at a time, one
// bus publish per user, bounded in time (maxBroadcastTime). One broadcast
// runs at a time per process: another answers conflict meanwhile.
func (s *Service) AdminBroadcast(ctx context.Context, text string) (*Notice, error) {
	if err := validNotice(text); err != nil {
		return nil, err
	}
	select {
	case s.adminBusy <- struct{}{}:
	default:
		return nil, protocol.Errorf(protocol.CodeConflict, "a broadcast is still being sent; try again later")
	}
	n := &Notice{ID: s.newID(), Text: text, CreatedAt: s.nowUTC()}
	ok := s.goBG(func() {
		defer func() { <-s.adminBusy }()
		ctx, cancel := context.WithTimeout(s.bg, maxBroadcastTime)
		defer cancel()
		sent, err := s.broadcast(ctx, n)
		if err != nil {
			s.log.Warn("admin broadcast stopped", zap.String("id", n.ID), zap.Int("sent", sent), zap.Error(err))
			return
		}
		s.log.Info("admin broadcast sent", zap.String("id", n.ID), zap.Int("users", sent))
	})
	if !ok {
		<-s.adminBusy
		return nil, protocol.Unavailable(errors.New("broadcast: shutting down"))
	}
	return n, nil
}

func (s *Service) broadcast(ctx context.Context, n *Notice) (int, error) {
	sent, after := 0, ""
	for {
		us, err := s.st.UsersPage(ctx, after, broadcastPage)
		if err != nil {
			return sent, err
		}
		if len(us) == 0 {
			return sent, nil
		}
		ids := make([]string, 0, len(us))
		for _, u := range us {
			ids = append(ids, u.ID)
		}
		bans, err := s.st.BansOf(ctx, ids)
		if err != nil {
			return sent, err
		}
		banned := make(map[string]bool, len(bans))
		for _, b := range bans {
			banned[b.UserID] = true
		}
		for _, u := range us {
			if !u.Deleted() && !banned[u.ID] {
				s.event(ctx, protocol.EventSystemNotice, "-", n, u.ID)
				sent++
			}
		}
		after = us[len(us)-1].ID
		if err := ctx.Err(); err != nil {
			return sent, err
		}
	}
}

// AdminUsers lists users (deleted ones included) by id, a page at a time:
// after is the last id of the previous page; more tells whether there are
// others.
func (s *Service) AdminUsers(ctx context.Context, after string, limit int) ([]AdminUser, bool, error) {
	limit = pageLimit(limit)
	us, err := s.st.UsersPage(ctx, after, limit+1)
	if err != nil {
		return nil, false, storeErr("users", err)
	}
	more := len(us) > limit
	if more {
		us = us[:limit]
	}
	ids := make([]string, len(us))
	for i := range us {
		ids[i] = us[i].ID
	}
	bans, err := s.st.BansOf(ctx, ids)
	if err != nil {
		return nil, false, storeErr("users", err)
	}
	byUser := make(map[string]*store.Ban, len(bans))
	for i := range bans {
		byUser[bans[i].UserID] = &bans[i]
	}
	out := make([]AdminUser, len(us))
	for i := range us {
		out[i] = adminUser(&us[i], byUser[us[i].ID])
	}
	return out, more, nil
}

// AdminRoom is a room as the admin API lists it.
type AdminRoom struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"` // direct or group
	Number    string    `json:"number,omitempty"`
	Name      string    `json:"name,omitempty"`
	Owner     string    `json:"owner,omitempty"`
	Disbanded bool      `json:"disbanded"`
	CreatedAt time.Time `json:"created_at"`
}

// AdminRooms lists rooms (groups only when groupsOnly) by id, a page at a
// time, as AdminUsers.
func (s *Service) AdminRooms(ctx context.Context, after string, groupsOnly bool, limit int) ([]AdminRoom, bool, error) {
	limit = pageLimit(limit)
	rs, err := s.st.RoomsPage(ctx, after, groupsOnly, limit+1)
	if err != nil {
		return nil, false, storeErr("rooms", err)
	}
	more := len(rs) > limit
	if more {
		rs = rs[:limit]
	}
	out := make([]AdminRoom, len(rs))
	for i, r := range rs {
		out[i] = AdminRoom{ID: r.ID, Type: r.Type.String(), Number: r.Number, Name: r.Name, Owner: r.Owner,
			Disbanded: r.Disbanded, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, more, nil
}

func pageLimit(limit int) int {
	if limit <= 0 || limit > MaxPage {
		return MaxPage
	}
	return limit
}
