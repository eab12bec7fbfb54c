package service

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/identity"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Bring your own identity (issue #16). Access tokens of the host app's
// identity provider are accepted next to the service's own: an
// Authenticator routes each token by its iss to the built-in verifier or
// to the identity.Source of that issuer, and links an external identity
// (issuer, subject) to a user of this service, creating the user the first
// time (ExternalUser). The claims it returns name the internal user id and
// no session, so REST, the gateway and the revocation checks work
// unchanged: a user-level revocation (rv:u:<id>, logout everywhere, a
// deleted or banned account) refuses the external tokens issued before it,
// and remembers it as long as an external token may live
// (Limits.ExternalTokenTTL).

// Defaults of AuthenticatorOptions.
const (
	DefaultIdentityCacheSize = 10000
	DefaultIdentityCacheTTL  = time.Minute
)

// AuthenticatorOptions tune an Authenticator; the zero value is ready.
type AuthenticatorOptions struct {
	// CacheSize bounds the in-memory links (issuer, subject) -> user id;
	// zero means DefaultIdentityCacheSize.
	CacheSize int
	// CacheTTL is how long a link (and the user's being live) is trusted
	// without reading the store; zero means DefaultIdentityCacheTTL.
	CacheTTL time.Duration
	// MaxTokenSize bounds a token before its issuer is read; zero means
	// auth.DefaultMaxTokenSize.
	MaxTokenSize int
	// BuiltinIssuer is the iss of the service's own tokens: a token that
	// names neither it nor a provider is refused as from an unknown issuer.
	BuiltinIssuer string
	// OnVerify, when set, is called with the outcome of each external
	// token: "ok", "refused" or "unavailable" (metrics).
	OnVerify func(issuer, outcome string)
}

// Authenticator verifies access tokens of the built-in issuer and of the
// configured identity providers. It is an auth.TokenVerifier; make one
// with NewAuthenticator. It is safe for concurrent use.
type Authenticator struct {
	svc     *Service
	builtin auth.TokenVerifier // nil: built-in tokens are refused
	sources map[string]identity.Source
	opts    AuthenticatorOptions
	cache   *linkCache
}

// NewAuthenticator returns an Authenticator over svc's store. builtin
// verifies the service's own tokens (nil: none are accepted); sources are
// the identity providers, one per issuer.
func NewAuthenticator(svc *Service, builtin auth.TokenVerifier, sources []identity.Source, opts AuthenticatorOptions) (*Authenticator, error) {
	if svc == nil {
		return nil, errors.New("service: new authenticator: nil service")
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultIdentityCacheSize
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultIdentityCacheTTL
	}
	if opts.MaxTokenSize <= 0 {
		opts.MaxTokenSize = auth.DefaultMaxTokenSize
	}
	a := &Authenticator{svc: svc, builtin: builtin, sources: map[string]identity.Source{}, opts: opts,
		cache: &linkCache{max: opts.CacheSize, ttl: opts.CacheTTL, now: svc.now, m: map[[2]string]linkEntry{}}}
	for _, s := range sources {
		if s == nil || s.Issuer() == "" {
			return nil, errors.New("service: new authenticator: identity source without an issuer")
		}
		if _, dup := a.sources[s.Issuer()]; dup {
			return nil, fmt.Errorf("service: new authenticator: two identity sources for issuer %q", s.Issuer())
		}
		a.sources[s.Issuer()] = s
	}
	return a, nil
}

// errUnknownIssuer answers a token whose iss is no configured issuer.
func errUnknownIssuer() error { return refused("token issuer is not accepted") }

// refused is a 401 whose message says why, and which wraps
// auth.ErrInvalidToken.
func refused(reason string) error {
	return &protocol.Error{Code: protocol.CodeUnauthenticated, Message: "invalid token: " + reason,
		Cause: fmt.Errorf("%w: %s", auth.ErrInvalidToken, reason)}
}

// Verify checks token and returns claims naming the internal user id. A
// refused token is a *protocol.Error unauthenticated (wrapping
// auth.ErrInvalidToken) with the reason in its message; a store outage
// while linking a first-seen identity is unavailable.
func (a *Authenticator) Verify(ctx context.Context, token string) (auth.Claims, error) {
	iss := identity.PeekIssuer(token, a.opts.MaxTokenSize)
	src, external := a.sources[iss]
	if !external {
		if a.builtin == nil {
			return auth.Claims{}, errUnknownIssuer()
		}
		c, err := a.builtin.Verify(ctx, token)
		if err != nil && len(a.sources) > 0 && iss != "" && iss != a.opts.BuiltinIssuer {
			// Neither ours nor a configured provider's.
			return auth.Claims{}, errUnknownIssuer()
		}
		return c, err
	}
	ec, err := src.Verify(ctx, token)
	if err != nil {
		a.outcome(iss, "refused")
		reason := identity.Reason(err)
		if reason == "" {
			reason = "refused"
		}
		return auth.Claims{}, &protocol.Error{Code: protocol.CodeUnauthenticated, Message: "invalid token: " + reason, Cause: err}
	}
	uid, err := a.userID(ctx, ec)
	if err != nil {
		if protocol.AsError(err).Code == protocol.CodeUnauthenticated {
			a.outcome(iss, "refused")
		} else {
			a.outcome(iss, "unavailable")
		}
		return auth.Claims{}, err
	}
	a.outcome(iss, "ok")
	return auth.Claims{UserID: uid, ExpiresAt: ec.ExpiresAt, IssuedAt: ec.IssuedAt, ID: ec.ID}, nil
}

func (a *Authenticator) outcome(iss, o string) {
	if a.opts.OnVerify != nil {
		a.opts.OnVerify(iss, o)
	}
}

// userID returns the user linked to ec, from the cache or the store
// (creating it the first time).
func (a *Authenticator) userID(ctx context.Context, ec identity.Claims) (string, error) {
	k := [2]string{ec.Issuer, ec.Subject}
	if uid, ok := a.cache.get(k); ok {
		return uid, nil
	}
	u, err := a.svc.ExternalUser(ctx, ec)
	if err != nil {
		return "", err
	}
	a.cache.put(k, u.ID)
	return u.ID, nil
}

// ExternalUser returns the user linked to the external identity of ec,
// creating the link and the user the first time. Two first requests at
// once create one user: the link is created first, under the store's
// unique key on (issuer, subject), with a fresh user id; the loser of the
// race reads the winner's link, and both then make sure that user exists
// (CreateUser is keyed by id: the second creation is a duplicate). A
// link whose user is missing (a crash between the two steps) is repaired
// the same way. A deleted or banned account is refused.
func (s *Service) ExternalUser(ctx context.Context, ec identity.Claims) (*store.User, error) {
	if ec.Issuer == "" || ec.Subject == "" {
		return nil, refused("no issuer or subject")
	}
	link, err := s.st.IdentityBySubject(ctx, ec.Issuer, ec.Subject)
	if errors.Is(err, store.ErrNotFound) {
		link = &store.Identity{Issuer: ec.Issuer, Subject: ec.Subject, UserID: s.newID(), CreatedAt: s.nowUTC()}
		err = s.st.CreateIdentity(ctx, link)
		if errors.Is(err, store.ErrDuplicate) {
			link, err = s.st.IdentityBySubject(ctx, ec.Issuer, ec.Subject)
		}
	}
	if err != nil {
		return nil, identityStoreErr(err)
	}
	u, err := s.st.UserByID(ctx, link.UserID)
	if errors.Is(err, store.ErrNotFound) {
		u, err = s.createExternalUser(ctx, link.UserID, ec)
	}
	if err != nil {
		return nil, identityStoreErr(err)
	}
	if u.Deleted() {
		return nil, protocol.Errorf(protocol.CodeUnauthenticated, "the account no longer exists")
	}
	// A ban (the admin API) refuses the provider's tokens issued after it
	// too; those issued before are cut off by the ban's revocation.
	if err := s.checkNotBanned(ctx, u.ID); err != nil {
		return nil, err
	}
	return u, nil
}

// identityStoreErr: a missing record here is an outage or a race that a
// retry settles, never the caller's not_found.
func identityStoreErr(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return err
	}
	return protocol.Unavailable(fmt.Errorf("identity: %w", err))
}

// createExternalUser creates the user uid for ec: an account name derived
// from the subject (a-z, 0-9, _, . and -; another suffix while it is
// taken), nickname and avatar from the claims when they are valid, an
// email under .invalid that nobody can register, and an unusable password
// (a password login never matches it).
func (s *Service) createExternalUser(ctx context.Context, uid string, ec identity.Claims) (*store.User, error) {
	nick := strings.TrimSpace(ec.Nickname)
	if validNickname(nick) != nil {
		nick = truncateRunes(cleanNick(nick), MaxNickname)
	}
	base := accountBase(ec.Subject)
	if validNickname(nick) != nil {
		nick = base
	}
	avatar := ec.Avatar
	if len(avatar) > MaxAvatar || !utf8.ValidString(avatar) ||
		!strings.HasPrefix(avatar, "https://") && !strings.HasPrefix(avatar, "http://") {
		avatar = ""
	}
	// No usable password: the hash of a random secret that is never kept
	// (every password check on the account answers "wrong password", none
	// fails for want of a hash).
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("create external user: %w", err)
	}
	hash, err := s.hashPassword(ctx, base64.RawURLEncoding.EncodeToString(secret))
	if err != nil {
		return nil, err
	}
	const attempts = 6
	for i := range attempts {
		account := base
		switch {
		case i == attempts-1:
			account = "u-" + strings.ToLower(uid) // unique: the user id
		case i > 0:
			account = base[:min(len(base), 24)] + "-" + randomSuffix(6)
		}
		now := s.nowUTC()
		u := &store.User{ID: uid, Account: account, Email: ExternalEmail(uid), PasswordHash: hash,
			Nickname: nick, Avatar: avatar, CreatedAt: now, UpdatedAt: now}
		err := s.st.CreateUser(ctx, u)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, store.ErrDuplicate) {
			return nil, err
		}
		// Taken: by a concurrent creation of this very user, or the
		// account name by someone else.
		if got, err := s.st.UserByID(ctx, uid); err == nil {
			return got, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("create external user %s: no free account name", uid)
}

// ExternalEmail is the placeholder email of a user provisioned from an
// identity provider: unique, and under .invalid (reserved), so nobody can
// register or receive mail at it.
func ExternalEmail(uid string) string { return strings.ToLower(uid) + "@external.invalid" }

// accountBase derives an account name from a subject: lower-cased, only
// a-z, 0-9, _, . and - kept, at most 24 characters; "user" when fewer
// than 3 remain.
func accountBase(sub string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(sub) {
		if b.Len() >= 24 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			b.WriteRune(r)
		}
	}
	a := b.String()
	if len(a) < 3 {
		return "user"
	}
	return a
}

func cleanNick(n string) string {
	var b strings.Builder
	for _, r := range n {
		if r >= 0x20 && r != 0x7f && r != utf8.RuneError {
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

func truncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

func randomSuffix(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// linkCache is a bounded in-memory map of links with a lifetime.
type linkCache struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	now func() time.Time
	m   map[[2]string]linkEntry
}

type linkEntry struct {
	uid string
	exp time.Time
}

func (c *linkCache) get(k [2]string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return "", false
	}
	if !c.now().Before(e.exp) {
		delete(c.m, k)
		return "", false
	}
	return e.uid, true
}

func (c *linkCache) put(k [2]string, uid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		// Full: drop expired entries, else any one (map order).
		now := c.now()
		for x, e := range c.m {
			if !now.Before(e.exp) {
				delete(c.m, x)
			}
		}
		for x := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, x)
		}
	}
	c.m[k] = linkEntry{uid: uid, exp: c.now().Add(c.ttl)}
}
