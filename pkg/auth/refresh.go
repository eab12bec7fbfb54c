package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// DefaultRefreshTTL is the lifetime of a refresh token when
// Sessions.RefreshTTL is zero.
const DefaultRefreshTTL = 30 * 24 * time.Hour

// refreshPrefix marks refresh tokens, so they are recognisable in a leak
// scan and never mistaken for access tokens.
const refreshPrefix = "rt_"

// refreshRandLen is the number of random bytes in a refresh token.
const refreshRandLen = 32

// ErrTokenReused is wrapped (together with ErrInvalidToken) by Refresh when
// an already-rotated refresh token is presented again: the whole family has
// been revoked.
var ErrTokenReused = errors.New("auth: refresh token reused; session revoked")

// ReusedError is returned (wrapping ErrInvalidToken and ErrTokenReused) by
// Refresh when a rotated token was presented again and its session was
// revoked, so that the caller can end the session's access tokens too.
type ReusedError struct {
	UserID, SessionID string
	Err               error // a failure to revoke, if any
}

func (e *ReusedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("auth: refresh: %v: %v; revoke family: %v", ErrInvalidToken, ErrTokenReused, e.Err)
	}
	return fmt.Sprintf("auth: refresh: %v: %v", ErrInvalidToken, ErrTokenReused)
}

// Unwrap makes errors.Is see ErrInvalidToken, ErrTokenReused and Err.
func (e *ReusedError) Unwrap() []error {
	return []error{ErrInvalidToken, ErrTokenReused, e.Err}
}

// Pair is what a login, registration or refresh hands to the client.
type Pair struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    int // access token lifetime, seconds
	UserID       string
	SessionID    string // the refresh family, also the access token's sid
}

// SessionInfo describes the device a session is started from.
type SessionInfo struct {
	Device string // a label: the login's device field, else the User-Agent
	IP     string
}

// MaxDeviceLabel bounds a session's device label (longer ones are cut).
const MaxDeviceLabel = 128

// Sessions issues and rotates refresh tokens. Each login starts a family;
// every refresh consumes the presented token and issues the next one in the
// same family. Presenting a consumed token again revokes the family, so a
// stolen token and the legitimate one both stop working.
type Sessions struct {
	Tokens     store.Tokens
	Issuer     *Issuer
	RefreshTTL time.Duration // zero means DefaultRefreshTTL
	Now        func() time.Time
}

// Start begins a new session (family) for userID, records it with info,
// and returns its first token pair.
func (s *Sessions) Start(ctx context.Context, userID string, info SessionInfo) (Pair, error) {
	if err := s.check(); err != nil {
		return Pair{}, err
	}
	if userID == "" {
		return Pair{}, errors.New("auth: start session: empty user id")
	}
	family, err := randomString(16)
	if err != nil {
		return Pair{}, fmt.Errorf("auth: start session: %w", err)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	err = s.Tokens.CreateSession(ctx, &store.Session{
		ID: family, UserID: userID, Device: DeviceLabel(info.Device), IP: info.IP,
		CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(s.refreshTTL()),
	})
	if err != nil {
		return Pair{}, fmt.Errorf("auth: start session: %w", err)
	}
	p, err := s.issue(ctx, userID, family)
	if err != nil {
		return Pair{}, fmt.Errorf("auth: start session: %w", err)
	}
	return p, nil
}

// DeviceLabel cleans a device label: printable, trimmed, at most
// MaxDeviceLabel bytes of valid UTF-8; "unknown device" when empty.
func DeviceLabel(d string) string {
	d = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.ToValidUTF8(d, ""))
	d = strings.TrimSpace(d)
	for len(d) > MaxDeviceLabel {
		_, n := utf8.DecodeLastRuneInString(d)
		d = d[:len(d)-n]
	}
	if d == "" {
		return "unknown device"
	}
	return d
}

// Refresh exchanges a refresh token for a new pair and records the use
// (from ip, when known) on the session. An unknown, expired, revoked or
// already used token returns an error wrapping ErrInvalidToken; a reuse
// also revokes the token's family and wraps ErrTokenReused. Other errors
// (the store being down) are returned wrapped as they are.
func (s *Sessions) Refresh(ctx context.Context, refreshToken, ip string) (Pair, error) {
	if err := s.check(); err != nil {
		return Pair{}, err
	}
	rt, err := s.lookup(ctx, refreshToken)
	if err != nil {
		return Pair{}, fmt.Errorf("auth: refresh: %w", err)
	}
	if !s.now().Before(rt.ExpiresAt) {
		return Pair{}, fmt.Errorf("auth: refresh: %w: expired", ErrInvalidToken)
	}
	revoked, err := s.Tokens.FamilyRevoked(ctx, rt.Family)
	if err != nil {
		return Pair{}, fmt.Errorf("auth: refresh: check family: %w", err)
	}
	if revoked {
		return Pair{}, fmt.Errorf("auth: refresh: %w: session revoked", ErrInvalidToken)
	}
	switch err := s.Tokens.ConsumeRefreshToken(ctx, rt.Hash); {
	case errors.Is(err, store.ErrDuplicate):
		return Pair{}, &ReusedError{UserID: rt.UserID, SessionID: rt.Family, Err: s.Tokens.RevokeFamily(ctx, rt.Family)}
	case errors.Is(err, store.ErrNotFound):
		return Pair{}, fmt.Errorf("auth: refresh: %w: unknown token", ErrInvalidToken)
	case err != nil:
		return Pair{}, fmt.Errorf("auth: refresh: consume: %w", err)
	}
	p, err := s.issue(ctx, rt.UserID, rt.Family)
	if err != nil {
		return Pair{}, fmt.Errorf("auth: refresh: %w", err)
	}
	// The session record is bookkeeping for the sessions list, and a
	// failure here must not undo a rotation that already happened. A
	// family started before sessions were recorded gets its record now,
	// so that it is listed and can be ended like any other.
	now := s.now().UTC().Truncate(time.Millisecond)
	exp := now.Add(s.refreshTTL())
	if err := s.Tokens.TouchSession(ctx, rt.Family, now, exp, ip); errors.Is(err, store.ErrNotFound) {
		_ = s.Tokens.CreateSession(ctx, &store.Session{ID: rt.Family, UserID: rt.UserID,
			Device: DeviceLabel(""), IP: ip, CreatedAt: now, LastUsedAt: now, ExpiresAt: exp})
	}
	return p, nil
}

// Revoke ends the session with the given id (its refresh family): its
// refresh tokens stop working at once. Access tokens that name it are
// refused by whoever checks revocations (see service.Sessions).
func (s *Sessions) Revoke(ctx context.Context, sessionID string) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := s.Tokens.RevokeFamily(ctx, sessionID); err != nil {
		return fmt.Errorf("auth: revoke session: %w", err)
	}
	return nil
}

// AccessTTL is the lifetime of the access tokens this issues: how long a
// revocation must be remembered.
func (s *Sessions) AccessTTL() time.Duration { return s.Issuer.ttl() }

// Logout revokes the session of refreshToken and returns it (user and
// session id). An unknown or malformed token is not an error but returns
// an empty session id, so logging out twice is harmless.
func (s *Sessions) Logout(ctx context.Context, refreshToken string) (userID, sessionID string, err error) {
	if err := s.check(); err != nil {
		return "", "", err
	}
	rt, err := s.lookup(ctx, refreshToken)
	if errors.Is(err, ErrInvalidToken) {
		return "", "", nil
	}
	if err != nil {
		return "", "", fmt.Errorf("auth: logout: %w", err)
	}
	if err := s.Tokens.RevokeFamily(ctx, rt.Family); err != nil {
		return "", "", fmt.Errorf("auth: logout: revoke family: %w", err)
	}
	return rt.UserID, rt.Family, nil
}

// HashRefreshToken returns the hex SHA-256 under which a refresh token is
// stored.
func HashRefreshToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// lookup finds the stored record of token; ErrInvalidToken when the token
// is malformed or unknown.
func (s *Sessions) lookup(ctx context.Context, token string) (*store.RefreshToken, error) {
	if !wellFormedRefreshToken(token) {
		return nil, fmt.Errorf("%w: malformed refresh token", ErrInvalidToken)
	}
	rt, err := s.Tokens.RefreshToken(ctx, HashRefreshToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown refresh token", ErrInvalidToken)
	}
	if err != nil {
		return nil, fmt.Errorf("look up refresh token: %w", err)
	}
	return rt, nil
}

// issue stores a new refresh token in family and signs an access token.
func (s *Sessions) issue(ctx context.Context, userID, family string) (Pair, error) {
	secret, err := randomString(refreshRandLen)
	if err != nil {
		return Pair{}, err
	}
	token := refreshPrefix + secret
	// Sign first: it has no side effect, so a failure leaves nothing behind.
	access, _, err := s.Issuer.IssueSession(userID, family)
	if err != nil {
		return Pair{}, err
	}
	now := s.now()
	err = s.Tokens.InsertRefreshToken(ctx, &store.RefreshToken{
		Hash:      HashRefreshToken(token),
		Family:    family,
		UserID:    userID,
		ExpiresAt: now.Add(s.refreshTTL()).UTC(),
		CreatedAt: now.UTC(),
	})
	if err != nil {
		return Pair{}, fmt.Errorf("store refresh token: %w", err)
	}
	return Pair{
		AccessToken:  access,
		RefreshToken: token,
		ExpiresIn:    s.Issuer.TTLSeconds(),
		UserID:       userID,
		SessionID:    family,
	}, nil
}

func (s *Sessions) check() error {
	if s == nil || s.Tokens == nil || s.Issuer == nil {
		return errors.New("auth: sessions: Tokens and Issuer must be set")
	}
	return nil
}

func (s *Sessions) refreshTTL() time.Duration {
	if s.RefreshTTL <= 0 {
		return DefaultRefreshTTL
	}
	return s.RefreshTTL
}

func (s *Sessions) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// wellFormedRefreshToken checks the shape of a token before it costs a
// database round trip.
func wellFormedRefreshToken(t string) bool {
	secret, ok := strings.CutPrefix(t, refreshPrefix)
	// 32 bytes are 43 base64url characters without padding.
	return ok && len(secret) == 43 && isBase64URL(secret)
}
