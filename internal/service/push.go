package service

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Push tokens (issue #16). A session registers the push tokens of its
// device; the after_send event lists, for each recipient who was connected
// nowhere, the tokens of their live sessions, so the host app's server can
// send the mobile push. A token belongs to the session that registered it
// last, and goes when that session ends (revokeQuietly: logout, logout
// everywhere, a session ended from the list, a reused refresh token, a
// password change, a deleted, banned or admin-logged-out account); an
// expired session's tokens are never listed (store.PushTokens.PushTokensOf)
// and go with it in the expiry sweep.

// Push token platforms.
const (
	PushFCM  = "fcm"  // Firebase Cloud Messaging registration token
	PushAPNs = "apns" // Apple Push Notification service device token
	PushWeb  = "web"  // Web Push: the subscription as the browser gives it (JSON)
)

// Push token limits.
const (
	// MaxPushTokenBytes bounds a token (a Web Push subscription is the
	// longest kind).
	MaxPushTokenBytes = 4096
	// MaxPushTokensPerSession bounds the tokens of one session: exact
	// under concurrency (AddPushToken).
	MaxPushTokensPerSession = 10
)

// PushTokenRef names a push token: its platform and the token.
type PushTokenRef struct {
	Platform string `json:"platform"`
	Token    string `json:"token"`
}

// PushTokenView is one of a session's push tokens.
type PushTokenView struct {
	Platform  string    `json:"platform"`
	Token     string    `json:"token"`
	CreatedAt time.Time `json:"created_at"`
}

func pushTokenView(p *store.PushToken) PushTokenView {
	return PushTokenView{Platform: p.Platform, Token: p.Token, CreatedAt: p.CreatedAt}
}

var (
	errPushNoSession = invalid("this access token names no session: push tokens belong to a session of a login to this service")
	errPushTooMany   = protocol.Errorf(protocol.CodeConflict,
		"this session has %d push tokens, the most it may have: delete one first", MaxPushTokensPerSession)
	errNoPushToken = protocol.Errorf(protocol.CodeNotFound, "no such push token")
)

// validPushToken checks a (platform, token) pair from a client.
func validPushToken(platform, token string) error {
	switch platform {
	case PushFCM, PushAPNs, PushWeb:
	case "":
		return invalid("platform is required: fcm, apns or web")
	default:
		return invalid("platform must be fcm, apns or web")
	}
	switch {
	case token == "":
		return invalid("token is required")
	case len(token) > MaxPushTokenBytes:
		return invalid("token must be at most %d bytes", MaxPushTokenBytes)
	case !utf8.ValidString(token):
		return invalid("token must be valid UTF-8")
	}
	for _, r := range token {
		if r == 0 {
			return invalid("token must not contain NUL characters")
		}
	}
	return nil
}

// AddPushToken registers a push token for the caller's session sid. It
// returns the token and whether it was new to the session: registering a
// token the session has already is answered with it, unchanged (created
// false); a token of another session (of any user) moves to this one.
// A session holds at most MaxPushTokensPerSession tokens (conflict past
// that). The bound is exact under concurrency: the token is stored, then
// the session's tokens are counted, and a registration that finds more
// than the bound takes its token back and answers conflict. The last of
// the registrations that stay to count saw all of them, so they never
// exceed the bound (racing ones may all give up: the client retries).
func (s *Service) AddPushToken(ctx context.Context, uid, sid, platform, token string) (PushTokenView, bool, error) {
	if err := validPushToken(platform, token); err != nil {
		return PushTokenView{}, false, err
	}
	if sid == "" {
		return PushTokenView{}, false, errPushNoSession
	}
	have, err := s.st.PushTokensOfSession(ctx, sid)
	if err != nil {
		return PushTokenView{}, false, storeErr("push tokens", err)
	}
	for i := range have {
		if have[i].Platform == platform && have[i].Token == token && have[i].UserID == uid {
			return pushTokenView(&have[i]), false, nil
		}
	}
	if len(have) >= MaxPushTokensPerSession {
		return PushTokenView{}, false, errPushTooMany
	}
	p := &store.PushToken{UserID: uid, SessionID: sid, Platform: platform, Token: token, CreatedAt: s.nowUTC()}
	if err := s.st.AddPushToken(ctx, p); err != nil {
		return PushTokenView{}, false, storeErr("push tokens", err)
	}
	have, err = s.st.PushTokensOfSession(ctx, sid)
	if err != nil {
		return PushTokenView{}, false, storeErr("push tokens", err)
	}
	if len(have) > MaxPushTokensPerSession {
		if err := s.st.RemovePushToken(context.WithoutCancel(ctx), uid, platform, token); err != nil && !errors.Is(err, store.ErrNotFound) {
			return PushTokenView{}, false, storeErr("push tokens", err)
		}
		return PushTokenView{}, false, errPushTooMany
	}
	return pushTokenView(p), true, nil
}

// PushTokens lists the push tokens of the caller's session sid, oldest
// first; none for an access token that names no session.
func (s *Service) PushTokens(ctx context.Context, uid, sid string) ([]PushTokenView, error) {
	out := []PushTokenView{}
	if sid == "" {
		return out, nil
	}
	ps, err := s.st.PushTokensOfSession(ctx, sid)
	if err != nil {
		return nil, storeErr("push tokens", err)
	}
	for i := range ps {
		if ps[i].UserID == uid {
			out = append(out, pushTokenView(&ps[i]))
		}
	}
	return out, nil
}

// RemovePushToken deletes one of the caller's push tokens (registered by
// any of their sessions); not_found when the caller has no such token.
func (s *Service) RemovePushToken(ctx context.Context, uid, platform, token string) error {
	if err := validPushToken(platform, token); err != nil {
		return err
	}
	err := s.st.RemovePushToken(ctx, uid, platform, token)
	if errors.Is(err, store.ErrNotFound) {
		return errNoPushToken
	}
	return storeErr("push tokens", err)
}

// offlinePushTokens returns the push tokens of the live sessions of the
// users (at most store.MaxPushTokenUsers), by user, in one store call.
func (s *Service) offlinePushTokens(ctx context.Context, uids []string) (map[string][]PushTokenRef, error) {
	out := make(map[string][]PushTokenRef, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	ps, err := s.st.PushTokensOf(ctx, uids, s.now())
	if err != nil {
		return nil, storeErr("after_send: push tokens", err)
	}
	// The store answers in no order: list each user's by platform, token.
	slices.SortFunc(ps, func(a, b store.PushToken) int {
		return cmp.Or(cmp.Compare(a.Platform, b.Platform), cmp.Compare(a.Token, b.Token))
	})
	for _, p := range ps {
		out[p.UserID] = append(out[p.UserID], PushTokenRef{Platform: p.Platform, Token: p.Token})
	}
	return out, nil
}
