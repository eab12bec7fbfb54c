package service

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/ratelimit"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

// Field limits.
const (
	MinPassword    = 8
	MaxPassword    = 128
	MaxNickname    = 32 // characters
	MaxAvatar      = 512
	MaxGroupName   = 64
	MaxGroupInfo   = 500
	MaxRequestNote = 200
)

func invalid(format string, args ...any) error {
	return protocol.Errorf(protocol.CodeInvalidArgument, format, args...)
}

// Session is what register, login and refresh return.
type Session struct {
	User *store.User
	auth.Pair
}

// RequestEmailCode sends a verification code to email. The answer does not
// depend on whether the address is registered.
func (s *Service) RequestEmailCode(ctx context.Context, email, ip string) error {
	e, ok := normalizeEmail(email)
	if !ok {
		return invalid("email is not a valid address")
	}
	return s.code.Request(ctx, e, ip)
}

// RegisterInput is the body of a registration.
type RegisterInput struct {
	Email, Code, Account, Password, Nickname string
	Device                                   string // the session's label
}

func validPassword(p string) error {
	if n := utf8.RuneCountInString(p); n < MinPassword || n > MaxPassword || !utf8.ValidString(p) {
		return invalid("password must be %d-%d characters", MinPassword, MaxPassword)
	}
	return nil
}

func validNickname(n string) error {
	if strings.TrimSpace(n) == "" || utf8.RuneCountInString(n) > MaxNickname || !utf8.ValidString(n) {
		return invalid("nickname must be 1-%d characters", MaxNickname)
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f {
			return invalid("nickname must not contain control characters")
		}
	}
	return nil
}

// Register creates an account from a verified email.
func (s *Service) Register(ctx context.Context, in RegisterInput, ip string) (*Session, error) {
	email, ok := normalizeEmail(in.Email)
	if !ok {
		return nil, invalid("email is not a valid address")
	}
	if len(in.Code) != 6 || strings.Trim(in.Code, "0123456789") != "" {
		return nil, invalid("code must be 6 digits")
	}
	if !validAccount(in.Account) {
		return nil, invalid("account must be 3-32 characters of a-z, 0-9, _, . and -")
	}
	if err := validPassword(in.Password); err != nil {
		return nil, err
	}
	nick := strings.TrimSpace(in.Nickname)
	if nick == "" {
		nick = in.Account
	}
	if err := validNickname(nick); err != nil {
		return nil, err
	}
	if err := s.hit(ctx, "reg:ip:"+ip, s.lim.RegisterPerIP); err != nil {
		return nil, err
	}
	// Check the code first (counting wrong tries), then that the names are
	// free, and only then use the code up, so a taken account name does not
	// burn a good code. The unique indexes settle any remaining race.
	if err := s.code.Check(ctx, email, in.Code); err != nil {
		return nil, err
	}
	if _, err := s.st.UserByAccount(ctx, in.Account); err == nil {
		return nil, protocol.Errorf(protocol.CodeConflict, "account is taken")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, storeErr("register", err)
	}
	if _, err := s.st.UserByEmail(ctx, email); err == nil {
		return nil, protocol.Errorf(protocol.CodeConflict, "email is already registered")
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, storeErr("register", err)
	}
	hash, err := s.hashPassword(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	if err := s.code.Consume(ctx, email, in.Code); err != nil {
		return nil, err
	}
	now := s.nowUTC()
	u := &store.User{ID: s.newID(), Account: in.Account, Email: email, PasswordHash: hash,
		Nickname: nick, CreatedAt: now, UpdatedAt: now}
	if err := s.st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return nil, protocol.Errorf(protocol.CodeConflict, "account or email is taken")
		}
		return nil, storeErr("register", err)
	}
	s.emit(ctx, webhook.EventUserRegistered, "user.registered:"+u.ID, userEvent(u))
	return s.startSession(ctx, u, auth.SessionInfo{Device: in.Device, IP: ip})
}

func (s *Service) startSession(ctx context.Context, u *store.User, info auth.SessionInfo) (*Session, error) {
	p, err := s.sess.Start(ctx, u.ID, info)
	if err != nil {
		return nil, storeErr("session", err)
	}
	if err := s.refuseIfBanned(ctx, u.ID, p.SessionID, false); err != nil {
		return nil, err
	}
	return &Session{User: u, Pair: p}, nil
}

var errBadLogin = protocol.Errorf(protocol.CodeUnauthenticated, "wrong account or password")

// Login checks a password for an account or email. Failures are counted per
// account and per client address; past the limit the answer is rate_limited
// for existing and unknown accounts alike.
func (s *Service) Login(ctx context.Context, login, password, device, ip string) (*Session, error) {
	login = strings.ToLower(strings.TrimSpace(login))
	if login == "" || len(login) > 254 || password == "" || len(password) > 4*MaxPassword {
		return nil, invalid("login and password are required")
	}
	// Every attempt is counted before the password is checked, so parallel
	// guesses cannot slip past the limits: per client address, per login
	// as typed (which covers unknown accounts alike), and per account
	// (so its account name and email share one budget).
	if err := s.hit(ctx, "login:ip:"+ip, s.lim.LoginPerIP); err != nil {
		return nil, err
	}
	if err := s.hit(ctx, "login:a:"+login, s.lim.LoginPerAccount); err != nil {
		return nil, err
	}
	var u *store.User
	var err error
	if strings.Contains(login, "@") {
		u, err = s.st.UserByEmail(ctx, login)
	} else {
		u, err = s.st.UserByAccount(ctx, login)
	}
	ok := false
	if err == nil && u.Deleted() {
		u, err = nil, store.ErrNotFound
	}
	switch {
	case err == nil:
		if err := s.hit(ctx, "login:u:"+u.ID, s.lim.LoginPerAccount); err != nil {
			return nil, err
		}
		if herr := s.withHashing(ctx, func() { ok, err = auth.VerifyPassword(u.PasswordHash, password) }); herr != nil {
			return nil, herr
		}
		if err != nil {
			return nil, protocol.Internal(err)
		}
	case errors.Is(err, store.ErrNotFound):
		if herr := s.withHashing(ctx, func() { auth.DummyVerify(password) }); herr != nil {
			return nil, herr // same time as a real check
		}
	default:
		return nil, storeErr("login", err)
	}
	if !ok {
		return nil, errBadLogin
	}
	_ = s.rl.Reset(ctx, "login:u:"+u.ID)
	_ = s.rl.Reset(ctx, "login:a:"+login)
	ss, err := s.startSession(ctx, u, auth.SessionInfo{Device: device, IP: ip})
	if err == nil {
		s.emit(ctx, webhook.EventUserLoggedIn, "user.logged_in:"+ss.SessionID,
			map[string]any{"user": userEvent(u), "session_id": ss.SessionID, "device": device})
	}
	return ss, err
}

// hit counts one event against a limit and answers rate_limited past it.
func (s *Service) hit(ctx context.Context, key string, r ratelimit.Rule) error {
	ok, retry, err := s.rl.Hit(ctx, key, r)
	if err != nil {
		return protocol.Unavailable(err)
	}
	if !ok {
		return protocol.RateLimited(retry)
	}
	return nil
}

// Refresh rotates a refresh token; ip is recorded on the session.
func (s *Service) Refresh(ctx context.Context, refreshToken, ip string) (*Session, error) {
	if refreshToken == "" || len(refreshToken) > 512 {
		return nil, invalid("refresh_token is required")
	}
	p, err := s.sess.Refresh(ctx, refreshToken, ip)
	var reused *auth.ReusedError
	if errors.As(err, &reused) {
		// A rotated token came back: one of the two holders is a thief.
		// The session ends everywhere, its access tokens and sockets too.
		if rerr := s.revoke(ctx, reused.UserID, []string{reused.SessionID}, RevokedReuse); rerr != nil {
			s.log.Warn("revoke a reused session", zap.Error(rerr))
		}
	}
	if errors.Is(err, auth.ErrInvalidToken) {
		return nil, protocol.Errorf(protocol.CodeUnauthenticated, "refresh token is invalid, expired or already used")
	}
	if err != nil {
		return nil, storeErr("refresh", err)
	}
	u, err := s.st.UserByID(ctx, p.UserID)
	if err != nil {
		return nil, storeErr("refresh", err)
	}
	if u.Deleted() {
		return nil, protocol.Errorf(protocol.CodeUnauthenticated, "the account no longer exists")
	}
	if err := s.refuseIfBanned(ctx, u.ID, p.SessionID, true); err != nil {
		return nil, err
	}
	return &Session{User: u, Pair: p}, nil
}

// Logout ends the refresh token's session: its refresh tokens, its access
// tokens and its sockets.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	if refreshToken == "" || len(refreshToken) > 512 {
		return invalid("refresh_token is required")
	}
	uid, sid, err := s.sess.Logout(ctx, refreshToken)
	if err != nil && !errors.Is(err, auth.ErrInvalidToken) {
		return storeErr("logout", err)
	}
	if sid == "" {
		return nil
	}
	return s.revoke(ctx, uid, []string{sid}, RevokedLogout)
}

// Me returns the caller's own user.
func (s *Service) Me(ctx context.Context, uid string) (*store.User, error) {
	u, err := s.st.UserByID(ctx, uid)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Deleted() {
		return nil, protocol.Errorf(protocol.CodeUnauthenticated, "the account no longer exists")
	}
	return u, storeErr("me", err)
}

// ProfileInput holds the fields to change; nil leaves a field alone.
type ProfileInput struct {
	Nickname *string
	Avatar   *string
	Sex      *int
	// HidePresence sets the presence privacy setting (see SetHidePresence).
	HidePresence *bool
}

// UpdateProfile changes the caller's profile.
func (s *Service) UpdateProfile(ctx context.Context, uid string, in ProfileInput) (*store.User, error) {
	if in.Nickname != nil {
		n := strings.TrimSpace(*in.Nickname)
		if err := validNickname(n); err != nil {
			return nil, err
		}
		in.Nickname = &n
	}
	if in.Avatar != nil {
		a := *in.Avatar
		if len(a) > MaxAvatar || !utf8.ValidString(a) {
			return nil, invalid("avatar must be at most %d bytes", MaxAvatar)
		}
		if a != "" && !strings.HasPrefix(a, "https://") && !strings.HasPrefix(a, "http://") {
			return nil, invalid("avatar must be an http(s) URL")
		}
	}
	if in.Sex != nil && (*in.Sex < 0 || *in.Sex > 2) {
		return nil, invalid("sex must be 0 (unset), 1 or 2")
	}
	if in.HidePresence != nil {
		if err := s.SetHidePresence(ctx, uid, *in.HidePresence); err != nil {
			return nil, err
		}
	}
	u, err := s.st.UpdateProfile(ctx, uid, in.Nickname, in.Avatar, in.Sex)
	return u, storeErr("profile", err)
}

// userByAccount finds a user or answers not_found.
func (s *Service) userByAccount(ctx context.Context, account string) (*store.User, error) {
	account = strings.ToLower(strings.TrimSpace(account))
	if !validAccount(account) {
		return nil, protocol.Errorf(protocol.CodeNotFound, "no such user")
	}
	u, err := s.st.UserByAccount(ctx, account)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Deleted() {
		return nil, &protocol.Error{Code: protocol.CodeNotFound, Message: "no such user"}
	}
	return u, storeErr("user", err)
}

// hiddenFrom answers not_found "no such user", as for an account that does
// not exist, when target blocked uid.
func (s *Service) hiddenFrom(ctx context.Context, target, uid string) error {
	b, err := s.st.IsBlocked(ctx, target, uid)
	if err != nil {
		return storeErr("user", err)
	}
	if b {
		return &protocol.Error{Code: protocol.CodeNotFound, Message: "no such user"}
	}
	return nil
}

// LookupUser finds a user by account and tells whether they are the caller's
// friend.
func (s *Service) LookupUser(ctx context.Context, uid, account string) (*store.User, bool, error) {
	u, err := s.userByAccount(ctx, account)
	if err != nil {
		return nil, false, err
	}
	if u.ID == uid {
		return u, false, nil
	}
	if err := s.hiddenFrom(ctx, u.ID, uid); err != nil {
		return nil, false, err
	}
	_, err = s.st.Friendship(ctx, uid, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return u, false, nil
	}
	return u, err == nil, storeErr("user", err)
}

// MaxUserIDs bounds one UsersByIDs lookup.
const MaxUserIDs = 100

// UsersByIDs returns the public profiles of the given user ids that exist
// (a deleted account shows as deleted), in the order asked; clients use it
// to name the senders of old messages.
func (s *Service) UsersByIDs(ctx context.Context, ids []string) ([]protocol.User, error) {
	if len(ids) == 0 || len(ids) > MaxUserIDs {
		return nil, invalid("ids must list 1-%d user ids", MaxUserIDs)
	}
	for _, id := range ids {
		if err := protocol.ValidID("ids", id); err != nil {
			return nil, err
		}
	}
	m, err := s.usersByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.User, 0, len(m))
	for _, id := range ids {
		if u := m[id]; u != nil {
			out = append(out, protocol.PublicUser(u))
			delete(m, id) // once, if asked twice
		}
	}
	return out, nil
}
