package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// memTokens is an in-memory store.Tokens with the same insert-once
// semantics as the Mongo implementation.
type memTokens struct {
	mu      sync.Mutex
	tokens  map[string]store.RefreshToken
	used    map[string]bool
	revoked map[string]bool
	sess    map[string]store.Session
	fail    error // returned by every call when set
}

func newMemTokens() *memTokens {
	return &memTokens{
		tokens:  map[string]store.RefreshToken{},
		used:    map[string]bool{},
		revoked: map[string]bool{},
		sess:    map[string]store.Session{},
	}
}

func (m *memTokens) CreateSession(_ context.Context, s *store.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.sess[s.ID]; ok {
		return store.ErrDuplicate
	}
	m.sess[s.ID] = *s
	return nil
}

func (m *memTokens) Session(_ context.Context, id string) (*store.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sess[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	s.Revoked = m.revoked[id]
	return &s, nil
}

func (m *memTokens) SessionsOf(context.Context, string) ([]store.Session, error) {
	return nil, errors.New("not used")
}

func (m *memTokens) TouchSession(_ context.Context, id string, used, exp time.Time, ip string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	s, ok := m.sess[id]
	if !ok {
		return store.ErrNotFound
	}
	s.LastUsedAt, s.ExpiresAt = used, exp
	if ip != "" {
		s.IP = ip
	}
	m.sess[id] = s
	return nil
}

func (m *memTokens) PurgeExpired(context.Context, time.Time, int) (int, error) {
	return 0, errors.New("not used")
}

func (m *memTokens) InsertRefreshToken(_ context.Context, t *store.RefreshToken) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if _, ok := m.tokens[t.Hash]; ok {
		return store.ErrDuplicate
	}
	m.tokens[t.Hash] = *t
	return nil
}

func (m *memTokens) RefreshToken(_ context.Context, hash string) (*store.RefreshToken, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	t, ok := m.tokens[hash]
	if !ok {
		return nil, store.ErrNotFound
	}
	return &t, nil
}

func (m *memTokens) ConsumeRefreshToken(_ context.Context, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if m.used[hash] {
		return store.ErrDuplicate
	}
	m.used[hash] = true
	return nil
}

func (m *memTokens) RevokeFamily(_ context.Context, family string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.revoked[family] = true
	return nil
}

func (m *memTokens) FamilyRevoked(_ context.Context, family string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return false, m.fail
	}
	return m.revoked[family], nil
}

func (m *memTokens) setFail(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

type sessionFixture struct {
	*tokenFixture
	store    *memTokens
	sessions *Sessions
}

func newSessionFixture(t *testing.T) *sessionFixture {
	t.Helper()
	tf := newTokenFixture(t)
	st := newMemTokens()
	return &sessionFixture{
		tokenFixture: tf,
		store:        st,
		sessions:     &Sessions{Tokens: st, Issuer: tf.issuer, RefreshTTL: 24 * time.Hour, Now: tf.clock.Now},
	}
}

func (f *sessionFixture) mustAccess(t *testing.T, p Pair, user string) {
	t.Helper()
	c, err := f.verifier.Verify(context.Background(), p.AccessToken)
	if err != nil {
		t.Fatalf("access token: %v", err)
	}
	if c.UserID != user {
		t.Fatalf("access token for %q, want %q", c.UserID, user)
	}
}

func wantInvalid(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("%s: %v, want ErrInvalidToken", what, err)
	}
}

func TestSessionsStart(t *testing.T) {
	f := newSessionFixture(t)
	p, err := f.sessions.Start(context.Background(), "user-1", SessionInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if p.UserID != "user-1" || p.ExpiresIn != 600 {
		t.Fatalf("pair %+v", p)
	}
	if !strings.HasPrefix(p.RefreshToken, "rt_") || len(p.RefreshToken) != 3+43 {
		t.Fatalf("refresh token %q: want rt_ and 43 base64url characters", p.RefreshToken)
	}
	f.mustAccess(t, p, "user-1")

	// Only the SHA-256 of the token is stored.
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	if len(f.store.tokens) != 1 {
		t.Fatalf("%d stored tokens, want 1", len(f.store.tokens))
	}
	for hash, rt := range f.store.tokens {
		if hash != HashRefreshToken(p.RefreshToken) || len(hash) != 64 || strings.Contains(hash, p.RefreshToken[3:]) {
			t.Fatalf("stored key %q is not the hex SHA-256 of the token", hash)
		}
		if rt.UserID != "user-1" || rt.Family == "" || !rt.ExpiresAt.Equal(f.clock.Now().Add(24*time.Hour)) {
			t.Fatalf("stored %+v", rt)
		}
	}
}

func TestSessionsRefreshRotates(t *testing.T) {
	ctx := context.Background()
	f := newSessionFixture(t)
	p1, err := f.sessions.Start(ctx, "user-1", SessionInfo{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.sessions.Start(ctx, "user-2", SessionInfo{})
	if err != nil {
		t.Fatal(err)
	}

	p2, err := f.sessions.Refresh(ctx, p1.RefreshToken, "")
	if err != nil {
		t.Fatal(err)
	}
	if p2.RefreshToken == p1.RefreshToken || p2.UserID != "user-1" {
		t.Fatalf("refreshed pair %+v", p2)
	}
	f.mustAccess(t, p2, "user-1")
	p3, err := f.sessions.Refresh(ctx, p2.RefreshToken, "")
	if err != nil {
		t.Fatal(err)
	}
	if fam := func(tok string) string {
		rt, _ := f.store.RefreshToken(ctx, HashRefreshToken(tok))
		return rt.Family
	}; fam(p1.RefreshToken) != fam(p3.RefreshToken) {
		t.Fatal("refresh started a new family")
	}

	// Reusing p1 (already rotated) fails and revokes the family...
	_, err = f.sessions.Refresh(ctx, p1.RefreshToken, "")
	wantInvalid(t, err, "reuse of a rotated token")
	if !errors.Is(err, ErrTokenReused) {
		t.Fatalf("reuse: %v, want ErrTokenReused", err)
	}
	// ...so the newest token, never used, fails too.
	_, err = f.sessions.Refresh(ctx, p3.RefreshToken, "")
	wantInvalid(t, err, "newest token after a reuse")

	// Another user's session is untouched.
	if _, err := f.sessions.Refresh(ctx, other.RefreshToken, ""); err != nil {
		t.Fatalf("other family: %v", err)
	}
}

func TestSessionsRefreshInvalid(t *testing.T) {
	ctx := context.Background()
	f := newSessionFixture(t)
	p, err := f.sessions.Start(ctx, "user-1", SessionInfo{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{
		"", "rt_", "garbage", p.AccessToken,
		"rt_" + strings.Repeat("A", 43), // well-formed but unknown
		strings.TrimPrefix(p.RefreshToken, "rt_"),
		p.RefreshToken + "A",
		p.RefreshToken[:len(p.RefreshToken)-1] + "\n",
	} {
		_, err := f.sessions.Refresh(ctx, tok, "")
		wantInvalid(t, err, "refresh with "+tok)
	}

	// Expired: the clock passes the refresh TTL.
	f.clock.Advance(24*time.Hour + time.Second)
	_, err = f.sessions.Refresh(ctx, p.RefreshToken, "")
	wantInvalid(t, err, "expired refresh token")
}

func TestSessionsConcurrentRefresh(t *testing.T) {
	ctx := context.Background()
	f := newSessionFixture(t)
	p, err := f.sessions.Start(ctx, "user-1", SessionInfo{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make(chan error, n)
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := f.sessions.Refresh(ctx, p.RefreshToken, "")
			results <- err
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		if err == nil {
			ok++
			continue
		}
		wantInvalid(t, err, "concurrent refresh")
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent refreshes succeeded, want exactly 1", ok, n)
	}
}

func TestSessionsLogout(t *testing.T) {
	ctx := context.Background()
	f := newSessionFixture(t)
	p1, err := f.sessions.Start(ctx, "user-1", SessionInfo{})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := f.sessions.Refresh(ctx, p1.RefreshToken, "")
	if err != nil {
		t.Fatal(err)
	}
	// Logging out with any token of the family ends the session.
	uid, sid, err := f.sessions.Logout(ctx, p1.RefreshToken)
	if err != nil || uid != "user-1" || sid != p1.SessionID {
		t.Fatalf("Logout = %q, %q, %v; want user-1, %q", uid, sid, err, p1.SessionID)
	}
	_, err = f.sessions.Refresh(ctx, p2.RefreshToken, "")
	wantInvalid(t, err, "refresh after logout")

	// Idempotent, and quiet about unknown or malformed tokens.
	for _, tok := range []string{p2.RefreshToken, "rt_" + strings.Repeat("B", 43), "", "junk"} {
		if _, sid, err := f.sessions.Logout(ctx, tok); err != nil || (sid != "") != (tok == p2.RefreshToken) {
			t.Fatalf("Logout(%q) = %q, %v, want nothing", tok, sid, err)
		}
	}
}

func TestSessionsStoreErrorsAreNotInvalidToken(t *testing.T) {
	ctx := context.Background()
	f := newSessionFixture(t)
	p, err := f.sessions.Start(ctx, "user-1", SessionInfo{})
	if err != nil {
		t.Fatal(err)
	}
	f.store.setFail(store.ErrUnavailable)
	_, err = f.sessions.Refresh(ctx, p.RefreshToken, "")
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("refresh with the store down: %v, want ErrUnavailable and not ErrInvalidToken", err)
	}
	if _, _, err := f.sessions.Logout(ctx, p.RefreshToken); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("logout with the store down: %v", err)
	}
	if _, err := f.sessions.Start(ctx, "user-1", SessionInfo{}); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("start with the store down: %v", err)
	}
	if strings.Contains(err.Error(), p.RefreshToken) {
		t.Fatal("error contains the refresh token")
	}

	if _, err := (&Sessions{}).Start(ctx, "u", SessionInfo{}); err == nil {
		t.Fatal("Start on an unconfigured Sessions succeeded")
	}
}

func TestSessionsRecorded(t *testing.T) {
	ctx := context.Background()
	f := newSessionFixture(t)
	p, err := f.sessions.Start(ctx, "user-1", SessionInfo{Device: "  Pixel 9\x00\n ", IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.verifier.Verify(ctx, p.AccessToken)
	if err != nil || c.SessionID != p.SessionID || p.SessionID == "" {
		t.Fatalf("access token sid %q (%v), want the session %q", c.SessionID, err, p.SessionID)
	}
	s, err := f.store.Session(ctx, p.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if s.UserID != "user-1" || s.Device != "Pixel 9" || s.IP != "192.0.2.1" || s.CreatedAt.IsZero() ||
		!s.LastUsedAt.Equal(s.CreatedAt) || !s.ExpiresAt.Equal(s.CreatedAt.Add(24*time.Hour)) {
		t.Fatalf("session = %+v", s)
	}
	f.clock.Advance(time.Hour)
	p2, err := f.sessions.Refresh(ctx, p.RefreshToken, "198.51.100.7")
	if err != nil {
		t.Fatal(err)
	}
	if p2.SessionID != p.SessionID {
		t.Fatalf("refresh moved to session %q", p2.SessionID)
	}
	s2, _ := f.store.Session(ctx, p.SessionID)
	if !s2.LastUsedAt.Equal(s.CreatedAt.Add(time.Hour)) || s2.IP != "198.51.100.7" || !s2.ExpiresAt.Equal(s2.LastUsedAt.Add(24*time.Hour)) {
		t.Fatalf("after refresh: %+v", s2)
	}
	if err := f.sessions.Revoke(ctx, p.SessionID); err != nil {
		t.Fatal(err)
	}
	_, err = f.sessions.Refresh(ctx, p2.RefreshToken, "")
	wantInvalid(t, err, "refresh of a revoked session")
}

func TestDeviceLabel(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "unknown device",
		"  \t ":                  "unknown device",
		"Firefox on Linux":       "Firefox on Linux",
		"a\x00b\x7fc\xffd":       "abcd",
		strings.Repeat("é", 100): strings.Repeat("é", 64),
		strings.Repeat("x", 200): strings.Repeat("x", MaxDeviceLabel),
	} {
		if got := DeviceLabel(in); got != want {
			t.Errorf("DeviceLabel(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLegacyFamilyGetsASession(t *testing.T) {
	ctx := context.Background()
	f := newSessionFixture(t)
	p, err := f.sessions.Start(ctx, "user-1", SessionInfo{})
	if err != nil {
		t.Fatal(err)
	}
	// As if the family had been started before sessions were recorded.
	f.store.mu.Lock()
	delete(f.store.sess, p.SessionID)
	f.store.mu.Unlock()
	if _, err := f.sessions.Refresh(ctx, p.RefreshToken, "203.0.113.9"); err != nil {
		t.Fatal(err)
	}
	s, err := f.store.Session(ctx, p.SessionID)
	if err != nil || s.UserID != "user-1" || s.IP != "203.0.113.9" || s.Device != "unknown device" {
		t.Fatalf("legacy family's session: %+v %v", s, err)
	}
}

func TestReuseNamesTheSession(t *testing.T) {
	ctx := context.Background()
	f := newSessionFixture(t)
	p, err := f.sessions.Start(ctx, "user-1", SessionInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sessions.Refresh(ctx, p.RefreshToken, ""); err != nil {
		t.Fatal(err)
	}
	_, err = f.sessions.Refresh(ctx, p.RefreshToken, "")
	var re *ReusedError
	if !errors.As(err, &re) || re.UserID != "user-1" || re.SessionID != p.SessionID || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("reuse: %v", err)
	}
}
