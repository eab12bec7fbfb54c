package service

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Revocation. A session is revoked in the store (its refresh tokens stop at
// once), then in the KV (Redis across nodes), where it is remembered as long
// as an access token issued before it may live, so that every API node and
// gateway refuses those tokens, and then announced on the user's bus
// channel with a session_revoked event, on which every gateway closes the
// session's sockets. Two records exist:
//
//	rv:s:<session id>  the session is revoked
//	rv:u:<user id>     tokens of the user that name no session (issued
//	                   before sessions were recorded) issued before this
//	                   unix second are refused (logout everywhere, a
//	                   password reset, a deleted account)
//
// Both live for the access token lifetime plus the verifier's clock skew
// plus a minute.

// Reasons given in session_revoked events and close frames.
const (
	RevokedLogout     = "logout"
	RevokedByUser     = "signed_out" // ended from the sessions list
	RevokedEverywhere = "signed_out_everywhere"
	RevokedPassword   = "password_changed"
	RevokedDeleted    = "account_deleted"
	RevokedReuse      = "refresh_token_reused" // a rotated refresh token came back
)

func sessionKey(sid string) string { return "rv:s:" + sid }
func userKey(uid string) string    { return "rv:u:" + uid }

// errRevoked is the answer to a token of a revoked session.
var errRevoked = protocol.Errorf(protocol.CodeUnauthenticated, "the session has ended; log in again")

// revocationTTL is how long a revocation must be remembered.
func (s *Service) revocationTTL() time.Duration {
	// An external token (identities.go) may live up to ExternalTokenTTL.
	return max(s.sess.AccessTTL(), s.lim.ExternalTokenTTL) + auth.DefaultClockSkew + time.Minute
}

// CheckToken refuses the verified claims of an access token whose session
// or user was revoked. It answers unauthenticated for a revoked token and
// unavailable when the revocations cannot be read (it fails closed).
func (s *Service) CheckToken(ctx context.Context, c auth.Claims) error {
	rv, err := s.Revoked(ctx, []auth.Claims{c})
	if err != nil {
		return err
	}
	if rv[0] {
		return errRevoked
	}
	return nil
}

// Revoked tells, for each of the claims, whether its token was revoked,
// in one KV round trip (the gateway checks its sockets in batches).
func (s *Service) Revoked(ctx context.Context, cs []auth.Claims) ([]bool, error) {
	keys := make([]string, 0, 2*len(cs))
	for _, c := range cs {
		keys = append(keys, userKey(c.UserID), sessionKey(c.SessionID))
	}
	vs, err := s.kv.GetMany(ctx, keys...)
	if err != nil {
		return nil, protocol.Unavailable(err)
	}
	out := make([]bool, len(cs))
	for i, c := range cs {
		if c.SessionID != "" {
			out[i] = vs[2*i+1] != ""
			continue
		}
		// A token naming no session is refused by the user's cut-off
		// only: sessions are revoked one by one, and a login in the same
		// second as a logout everywhere must stay valid.
		if cut := vs[2*i]; cut != "" {
			n, err := strconv.ParseInt(cut, 10, 64)
			out[i] = err != nil || c.IssuedAt.Unix() < n
		}
	}
	return out, nil
}

// SessionView is one entry of the sessions list.
type SessionView struct {
	ID         string    `json:"id"`
	Device     string    `json:"device"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
}

// Sessions lists the user's live sessions, oldest first; current is the
// caller's own session id (from the access token).
func (s *Service) Sessions(ctx context.Context, uid, current string) ([]SessionView, error) {
	ss, err := s.st.SessionsOf(ctx, uid)
	if err != nil {
		return nil, storeErr("sessions", err)
	}
	now := s.now()
	out := make([]SessionView, 0, len(ss))
	for _, x := range ss {
		if x.Revoked || !now.Before(x.ExpiresAt) {
			continue
		}
		out = append(out, SessionView{ID: x.ID, Device: x.Device, CreatedAt: x.CreatedAt,
			LastUsedAt: x.LastUsedAt, IP: x.IP, Current: x.ID == current})
	}
	return out, nil
}

var errNoSession = protocol.Errorf(protocol.CodeNotFound, "no such session")

// EndSession revokes one of the caller's sessions. Another user's session
// id answers not_found, like an unknown one.
func (s *Service) EndSession(ctx context.Context, uid, sid string) error {
	if sid == "" || len(sid) > 64 {
		return errNoSession
	}
	x, err := s.st.Session(ctx, sid)
	if errors.Is(err, store.ErrNotFound) || err == nil && (x.UserID != uid || x.Revoked) {
		return errNoSession
	}
	if err != nil {
		return storeErr("sessions", err)
	}
	return s.revoke(ctx, uid, []string{sid}, RevokedByUser)
}

// LogoutAll revokes every session of the user, the caller's own included.
func (s *Service) LogoutAll(ctx context.Context, uid string) error {
	return s.revokeAll(ctx, uid, "", RevokedEverywhere)
}

// revokeAll revokes every session of uid but keep (none when empty). With
// keep empty it also refuses the user's tokens issued before this second
// that name no session (issued before sessions were recorded); the
// gateways' sweep closes sockets of those within RevocationCheck. For a
// deleted account (closeAll) the event closes every socket of the user,
// whatever its session.
func (s *Service) revokeAll(ctx context.Context, uid, keep, reason string) error {
	ss, err := s.st.SessionsOf(ctx, uid)
	if err != nil {
		return storeErr("sessions", err)
	}
	ids := make([]string, 0, len(ss))
	for _, x := range ss {
		if x.ID != keep {
			ids = append(ids, x.ID)
		}
	}
	if keep != "" {
		return s.revoke(ctx, uid, ids, reason)
	}
	if err := s.revokeQuietly(ctx, ids); err != nil {
		return err
	}
	cut := strconv.FormatInt(s.now().Unix(), 10)
	if err := s.kv.Set(ctx, userKey(uid), cut, s.revocationTTL()); err != nil {
		return protocol.Unavailable(err)
	}
	ev := RevokedEvent{SessionIDs: ids, Reason: reason}
	if reason == RevokedDeleted {
		// Nobody can log in again: every socket of the user goes.
		ev = RevokedEvent{All: true, Reason: reason}
	} else if len(ids) == 0 {
		return nil
	}
	s.event(ctx, protocol.EventSessionRevoked, "-", ev, uid)
	return nil
}

// revoke ends the given sessions of uid: store, KV, then the event that
// closes their sockets. It is idempotent, so a caller answered unavailable
// may simply retry.
func (s *Service) revoke(ctx context.Context, uid string, sids []string, reason string) error {
	if len(sids) == 0 {
		return nil
	}
	if err := s.revokeQuietly(ctx, sids); err != nil {
		return err
	}
	s.announceRevoked(ctx, uid, sids, reason)
	return nil
}

// revokeQuietly revokes sessions in the store and the KV, without the event.
// The sessions' push tokens go too (push.go).
func (s *Service) revokeQuietly(ctx context.Context, sids []string) error {
	for _, id := range sids {
		if err := s.sess.Revoke(ctx, id); err != nil {
			return storeErr("sessions", err)
		}
		if err := s.st.RemovePushTokensOfSession(ctx, id); err != nil {
			return storeErr("sessions: push tokens", err)
		}
		if err := s.kv.Set(ctx, sessionKey(id), "1", s.revocationTTL()); err != nil {
			return protocol.Unavailable(err)
		}
	}
	return nil
}

// RevokedEvent is the data of a session_revoked event. All means every
// socket of the user (a deleted account); else SessionIDs lists the
// sessions whose sockets close.
type RevokedEvent struct {
	SessionIDs []string `json:"session_ids,omitempty"`
	All        bool     `json:"all,omitempty"`
	Reason     string   `json:"reason"`
}

func (s *Service) announceRevoked(ctx context.Context, uid string, sids []string, reason string) {
	s.event(ctx, protocol.EventSessionRevoked, "-", RevokedEvent{SessionIDs: sids, Reason: reason}, uid)
}
