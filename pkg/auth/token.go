// Package auth hashes passwords, signs and verifies access tokens (EdDSA
// JWTs), publishes and fetches the verification keys (JWKS) and rotates
// refresh tokens with reuse detection.
package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Defaults used when the corresponding field or option is zero.
const (
	DefaultAccessTTL    = 15 * time.Minute
	DefaultClockSkew    = 30 * time.Second
	DefaultMaxTokenSize = 8 << 10
)

// ErrInvalidToken is wrapped by every error that means "this token is not
// acceptable": malformed, badly signed, expired, unknown, revoked or
// reused. Callers answer it with 401.
var ErrInvalidToken = errors.New("auth: invalid token")

// ErrUnknownKey is returned (wrapped) by a KeySource that has no key with
// the requested kid.
var ErrUnknownKey = errors.New("auth: unknown key id")

// Issuer signs access tokens.
type Issuer struct {
	Signer   *Signer
	Issuer   string        // the iss claim
	Audience string        // the aud claim
	TTL      time.Duration // lifetime; zero means DefaultAccessTTL
	Now      func() time.Time
}

// SessionClaim is the private claim that names the session (refresh
// family) a token was issued for; revoking the session refuses the token.
const SessionClaim = "sid"

// Issue returns a signed access token for userID and its expiry time. The
// token is a compact JWS with alg EdDSA and the signer's kid in the header,
// and claims sub, iss, aud, exp, iat, nbf and a random jti.
func (i *Issuer) Issue(userID string) (token string, expiresAt time.Time, err error) {
	return i.IssueSession(userID, "")
}

// IssueSession is Issue with the session id in the sid claim (none when
// sessionID is empty).
func (i *Issuer) IssueSession(userID, sessionID string) (token string, expiresAt time.Time, err error) {
	if i == nil || i.Signer == nil || len(i.Signer.key) != ed25519.PrivateKeySize {
		return "", time.Time{}, errors.New("auth: issue: no signer")
	}
	if i.Issuer == "" || i.Audience == "" {
		return "", time.Time{}, errors.New("auth: issue: issuer and audience must be set")
	}
	if userID == "" {
		return "", time.Time{}, errors.New("auth: issue: empty user id")
	}
	jti, err := randomString(16)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: issue: %w", err)
	}
	now := i.now().UTC().Truncate(time.Second)
	exp := now.Add(i.ttl()).Truncate(time.Second)
	b := jwt.NewBuilder()
	if sessionID != "" {
		b = b.Claim(SessionClaim, sessionID)
	}
	tok, err := b.
		Subject(userID).
		Issuer(i.Issuer).
		Audience([]string{i.Audience}).
		IssuedAt(now).
		NotBefore(now).
		Expiration(exp).
		JwtID(jti).
		Build()
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: issue: build claims: %w", err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, i.Signer.kid); err != nil {
		return "", time.Time{}, fmt.Errorf("auth: issue: header: %w", err)
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", time.Time{}, fmt.Errorf("auth: issue: header: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.EdDSA, i.Signer.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: issue: sign: %w", err)
	}
	return string(signed), exp, nil
}

// TTLSeconds returns the access token lifetime in whole seconds.
func (i *Issuer) TTLSeconds() int { return int(i.ttl() / time.Second) }

func (i *Issuer) ttl() time.Duration {
	if i.TTL <= 0 {
		return DefaultAccessTTL
	}
	return i.TTL
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// Claims are the verified contents of an access token.
type Claims struct {
	UserID    string    // sub
	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat (zero if absent)
	ID        string    // jti
	SessionID string    // sid: empty in tokens issued without a session
}

// KeySource finds the Ed25519 public key with a given key id. A missing key
// is an error wrapping ErrUnknownKey.
type KeySource interface {
	Key(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

// VerifierOptions tune a Verifier. The zero value is ready to use.
type VerifierOptions struct {
	// ClockSkew is the tolerance on exp, nbf and iat. Zero means
	// DefaultClockSkew; a negative value means no tolerance.
	ClockSkew time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxTokenSize bounds the accepted token length in bytes. Zero means
	// DefaultMaxTokenSize.
	MaxTokenSize int
}

// Verifier checks access tokens. It accepts only compact JWS tokens signed
// with EdDSA by a key its KeySource knows, whatever the header claims.
// Make one with NewVerifier; it is safe for concurrent use.
type Verifier struct {
	keys     KeySource
	issuer   string
	audience string
	skew     time.Duration
	now      func() time.Time
	maxSize  int
}

// NewVerifier returns a Verifier that looks keys up in keys and requires
// the given iss and aud claims.
func NewVerifier(keys KeySource, issuer, audience string, opts VerifierOptions) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("auth: new verifier: nil key source")
	}
	if issuer == "" || audience == "" {
		return nil, errors.New("auth: new verifier: issuer and audience must be set")
	}
	v := &Verifier{
		keys:     keys,
		issuer:   issuer,
		audience: audience,
		skew:     opts.ClockSkew,
		now:      opts.Now,
		maxSize:  opts.MaxTokenSize,
	}
	switch {
	case v.skew == 0:
		v.skew = DefaultClockSkew
	case v.skew < 0:
		v.skew = 0
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.maxSize <= 0 {
		v.maxSize = DefaultMaxTokenSize
	}
	return v, nil
}

// Verify checks token and returns its claims. Every failure returns an
// error wrapping ErrInvalidToken (a key source failure also wraps the
// source's error).
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if v == nil || v.keys == nil {
		return Claims{}, fmt.Errorf("%w: verifier not configured", ErrInvalidToken)
	}
	if err := CheckCompact(token, v.maxSize); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	var keyErr error
	provider := jws.KeyProviderFunc(func(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
		pub, err := v.selectKey(ctx, sig.ProtectedHeaders())
		if err != nil {
			keyErr = err
			return err
		}
		// The algorithm is pinned here: whatever "alg" says, only an
		// Ed25519 signature by this key is accepted.
		sink.Key(jwa.EdDSA, pub)
		return nil
	})
	payload, err := jws.Verify([]byte(token),
		jws.WithCompact(),
		jws.WithContext(ctx),
		jws.WithKeyProvider(provider))
	if err != nil {
		if keyErr != nil {
			return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, keyErr)
		}
		return Claims{}, fmt.Errorf("%w: bad signature or encoding", ErrInvalidToken)
	}
	tok := jwt.New()
	if err := json.Unmarshal(payload, tok); err != nil {
		return Claims{}, fmt.Errorf("%w: malformed claims", ErrInvalidToken)
	}
	err = jwt.Validate(tok,
		jwt.WithContext(ctx),
		jwt.WithClock(jwt.ClockFunc(v.now)),
		jwt.WithAcceptableSkew(v.skew),
		jwt.WithIssuer(v.issuer),
		jwt.WithAudience(v.audience),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
	)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if tok.Subject() == "" {
		return Claims{}, fmt.Errorf("%w: empty subject", ErrInvalidToken)
	}
	c := Claims{UserID: tok.Subject(), ExpiresAt: tok.Expiration(), IssuedAt: tok.IssuedAt(), ID: tok.JwtID()}
	if v, ok := tok.Get(SessionClaim); ok {
		sid, ok := v.(string)
		if !ok || sid == "" || len(sid) > 64 {
			return Claims{}, fmt.Errorf("%w: malformed sid claim", ErrInvalidToken)
		}
		c.SessionID = sid
	}
	return c, nil
}

// selectKey checks the protected header and returns the key it names.
func (v *Verifier) selectKey(ctx context.Context, h jws.Headers) (ed25519.PublicKey, error) {
	if h == nil {
		return nil, errors.New("no protected header")
	}
	if h.Algorithm() != jwa.EdDSA {
		return nil, errors.New("algorithm is not EdDSA")
	}
	if len(h.Critical()) > 0 {
		return nil, errors.New("unsupported critical header")
	}
	if _, ok := h.Get("b64"); ok {
		return nil, errors.New("unsupported b64 header")
	}
	if typ := h.Type(); typ != "" && !strings.EqualFold(typ, "JWT") {
		return nil, errors.New("unexpected typ header")
	}
	kid := h.KeyID()
	if kid == "" {
		return nil, errors.New("missing kid")
	}
	pub, err := v.keys.Key(ctx, kid)
	if err != nil {
		return nil, fmt.Errorf("key lookup: %w", err)
	}
	if len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("key source returned a bad key")
	}
	return pub, nil
}

// CheckCompact accepts only three non-empty dot-separated segments of
// strict unpadded base64url, so that one token has one spelling.
func CheckCompact(token string, maxSize int) error {
	if token == "" {
		return errors.New("empty")
	}
	if len(token) > maxSize {
		return errors.New("too long")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("not a compact JWS")
	}
	for _, p := range parts {
		if p == "" {
			return errors.New("empty segment")
		}
		// The decoder skips '\r' and '\n'; the alphabet check does not.
		if !isBase64URL(p) {
			return errors.New("segment is not base64url")
		}
		if _, err := base64.RawURLEncoding.Strict().DecodeString(p); err != nil {
			return errors.New("segment is not base64url")
		}
	}
	return nil
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// randomString returns n random bytes, base64url without padding.
func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
