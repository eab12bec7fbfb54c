package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
)

// Defaults of Config.
const (
	DefaultUserClaim    = "sub"
	DefaultClockSkew    = 30 * time.Second
	DefaultMaxLifetime  = time.Hour
	DefaultMaxTokenSize = 8 << 10
	// MaxSubjectLen bounds the user claim's value.
	MaxSubjectLen = 255
)

// DefaultAlgorithms are the algorithms accepted when none are configured.
var DefaultAlgorithms = []string{"RS256", "ES256", "EdDSA"}

// Allowed algorithms: asymmetric signatures only. HS* (a shared secret,
// and the classic confusion attack with the public key as the secret) and
// "none" can never be configured.
var supportedAlgs = map[string]jwa.SignatureAlgorithm{
	"RS256": jwa.RS256, "RS384": jwa.RS384, "RS512": jwa.RS512,
	"PS256": jwa.PS256, "PS384": jwa.PS384, "PS512": jwa.PS512,
	"ES256": jwa.ES256, "ES384": jwa.ES384, "ES512": jwa.ES512,
	"EdDSA": jwa.EdDSA,
}

// Config describes one identity provider. Issuer and Audience are
// required; the zero value of every other field is a sensible default.
type Config struct {
	Issuer   string // required iss
	Audience string // required: one of the token's aud
	// Algorithms pins the accepted signature algorithms; empty means
	// DefaultAlgorithms. Only asymmetric ones are accepted (see
	// supportedAlgs). A key that names an algorithm must name the token's.
	Algorithms []string
	// UserClaim names the claim that identifies the user at the provider;
	// empty means "sub". Its value must be a non-empty string.
	UserClaim string
	// NicknameClaim and AvatarClaim name the claims read into the new
	// user's profile ("" reads none). A missing claim is no error.
	NicknameClaim, AvatarClaim string
	// ClockSkew is the leeway on exp, nbf and iat. Zero means
	// DefaultClockSkew; negative means none.
	ClockSkew time.Duration
	// MaxLifetime bounds exp - iat: a token living longer is refused, so
	// that a user-level revocation, remembered that long, outlives every
	// token it refuses. Zero means DefaultMaxLifetime.
	MaxLifetime time.Duration
	// MaxTokenSize bounds the token length in bytes. Zero means
	// DefaultMaxTokenSize.
	MaxTokenSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Provider is the Source of one identity provider whose keys are in a
// KeySet. Make one with NewProvider; it is safe for concurrent use.
type Provider struct {
	keys KeySet
	cfg  Config
	algs []jwa.SignatureAlgorithm
}

var _ Source = (*Provider)(nil)

// NewProvider checks cfg and returns its Source.
func NewProvider(keys KeySet, cfg Config) (*Provider, error) {
	if keys == nil {
		return nil, errors.New("identity: new provider: nil key set")
	}
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("identity: new provider: issuer and audience must be set")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = DefaultAlgorithms
	}
	p := &Provider{keys: keys}
	for _, a := range cfg.Algorithms {
		alg, ok := supportedAlgs[strings.TrimSpace(a)]
		if !ok {
			return nil, fmt.Errorf("identity: new provider: algorithm %q is not allowed (want asymmetric ones: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)", a)
		}
		p.algs = append(p.algs, alg)
	}
	if cfg.UserClaim == "" {
		cfg.UserClaim = DefaultUserClaim
	}
	switch {
	case cfg.ClockSkew == 0:
		cfg.ClockSkew = DefaultClockSkew
	case cfg.ClockSkew < 0:
		cfg.ClockSkew = 0
	}
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	if cfg.MaxTokenSize <= 0 {
		cfg.MaxTokenSize = DefaultMaxTokenSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p.cfg = cfg
	return p, nil
}

// Issuer returns the provider's iss.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// MaxLifetime is the longest lifetime of an accepted token.
func (p *Provider) MaxLifetime() time.Duration { return p.cfg.MaxLifetime }

// Verify checks token: a compact JWS signed with an allowed algorithm by a
// key of the provider whose type and alg fit, then iss, aud, exp, nbf, iat
// and the lifetime bound, then the user claim. Every refusal is a
// *TokenError (wrapping auth.ErrInvalidToken) with a reason.
func (p *Provider) Verify(ctx context.Context, token string) (Claims, error) {
	if err := auth.CheckCompact(token, p.cfg.MaxTokenSize); err != nil {
		return Claims{}, refuse("malformed token", err)
	}
	var keyErr error
	provider := jws.KeyProviderFunc(func(ctx context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
		alg, key, err := p.selectKey(ctx, sig.ProtectedHeaders())
		if err != nil {
			keyErr = err
			return err
		}
		sink.Key(alg, key)
		return nil
	})
	payload, err := jws.Verify([]byte(token), jws.WithCompact(), jws.WithContext(ctx), jws.WithKeyProvider(provider))
	if err != nil {
		if keyErr != nil {
			return Claims{}, keyErr
		}
		return Claims{}, refuse("bad signature", err)
	}
	tok := jwt.New()
	if err := json.Unmarshal(payload, tok); err != nil {
		return Claims{}, refuse("malformed claims", err)
	}
	err = jwt.Validate(tok,
		jwt.WithContext(ctx),
		jwt.WithClock(jwt.ClockFunc(p.cfg.Now)),
		jwt.WithAcceptableSkew(p.cfg.ClockSkew),
		jwt.WithIssuer(p.cfg.Issuer),
		jwt.WithAudience(p.cfg.Audience),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
	)
	if err != nil {
		return Claims{}, refuse(validationReason(err), err)
	}
	if life := tok.Expiration().Sub(tok.IssuedAt()); life > p.cfg.MaxLifetime {
		return Claims{}, refuse("token lifetime too long", fmt.Errorf("exp - iat = %s > %s", life, p.cfg.MaxLifetime))
	}
	sub, ok := stringClaim(tok, p.cfg.UserClaim)
	if !ok || !validSubject(sub) {
		return Claims{}, refuse("missing or invalid user claim", fmt.Errorf("claim %q", p.cfg.UserClaim))
	}
	c := Claims{Issuer: tok.Issuer(), Subject: sub, ExpiresAt: tok.Expiration(), IssuedAt: tok.IssuedAt(), ID: tok.JwtID()}
	if p.cfg.NicknameClaim != "" {
		c.Nickname, _ = stringClaim(tok, p.cfg.NicknameClaim)
	}
	if p.cfg.AvatarClaim != "" {
		c.Avatar, _ = stringClaim(tok, p.cfg.AvatarClaim)
	}
	return c, nil
}

// selectKey checks the protected header and returns the pinned algorithm
// and the raw public key to verify with.
func (p *Provider) selectKey(ctx context.Context, h jws.Headers) (jwa.SignatureAlgorithm, any, error) {
	if h == nil {
		return "", nil, refuse("malformed token", errors.New("no protected header"))
	}
	alg := h.Algorithm()
	if !slices.Contains(p.algs, alg) {
		return "", nil, refuse("token algorithm not allowed", fmt.Errorf("alg %q", alg))
	}
	if len(h.Critical()) > 0 {
		return "", nil, refuse("unsupported critical header", nil)
	}
	if _, ok := h.Get("b64"); ok {
		return "", nil, refuse("unsupported b64 header", nil)
	}
	switch typ := strings.ToLower(h.Type()); typ {
	case "", "jwt", "at+jwt", "application/at+jwt":
	default:
		return "", nil, refuse("unexpected typ header", fmt.Errorf("typ %q", typ))
	}
	kid := h.KeyID()
	if kid == "" {
		return "", nil, refuse("token has no kid", nil)
	}
	key, err := p.keys.Key(ctx, kid)
	if err != nil {
		if errors.Is(err, auth.ErrUnknownKey) {
			return "", nil, refuse("token signing key unknown (or the identity provider's keys are unavailable)", err)
		}
		return "", nil, refuse("identity provider keys unavailable", err)
	}
	raw, err := fitKey(key, alg)
	if err != nil {
		return "", nil, refuse("signing key does not fit the token algorithm", err)
	}
	return alg, raw, nil
}

// fitKey returns key's raw public key when it may verify alg: a signing
// key, with no other alg named, of alg's type (and curve).
func fitKey(key jwk.Key, alg jwa.SignatureAlgorithm) (any, error) {
	if u := key.KeyUsage(); u != "" && u != jwk.ForSignature.String() {
		return nil, fmt.Errorf("key use %q", u)
	}
	if a := key.Algorithm().String(); a != "" && a != alg.String() {
		return nil, fmt.Errorf("key alg %q, token alg %q", a, alg)
	}
	var raw any
	if err := key.Raw(&raw); err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	switch alg {
	case jwa.RS256, jwa.RS384, jwa.RS512, jwa.PS256, jwa.PS384, jwa.PS512:
		k, ok := raw.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("want an RSA public key, got %T", raw)
		}
		if k.N.BitLen() < 2048 {
			return nil, errors.New("RSA key shorter than 2048 bits")
		}
	case jwa.ES256, jwa.ES384, jwa.ES512:
		k, ok := raw.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("want an EC public key, got %T", raw)
		}
		want := map[jwa.SignatureAlgorithm]elliptic.Curve{jwa.ES256: elliptic.P256(), jwa.ES384: elliptic.P384(), jwa.ES512: elliptic.P521()}[alg]
		if k.Curve != want {
			return nil, errors.New("EC key curve does not fit the algorithm")
		}
	case jwa.EdDSA:
		k, ok := raw.(ed25519.PublicKey)
		if !ok || len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("want an Ed25519 public key, got %T", raw)
		}
	default:
		return nil, fmt.Errorf("algorithm %q", alg)
	}
	return raw, nil
}

func validationReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired()):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotYetValid()):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrInvalidIssuer()):
		return "token issuer mismatch"
	case errors.Is(err, jwt.ErrInvalidAudience()):
		return "token audience mismatch"
	case errors.Is(err, jwt.ErrInvalidIssuedAt()):
		return "token issued in the future"
	case errors.Is(err, jwt.ErrMissingRequiredClaim(jwt.ExpirationKey)),
		errors.Is(err, jwt.ErrMissingRequiredClaim(jwt.IssuedAtKey)),
		errors.Is(err, jwt.ErrRequiredClaim()):
		return "token lacks a required claim (exp, iat)"
	default:
		return "token claims invalid"
	}
}

// stringClaim reads a string claim ("sub" and the other registered names
// included).
func stringClaim(tok jwt.Token, name string) (string, bool) {
	v, ok := tok.Get(name)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

// validSubject: printable UTF-8, at most MaxSubjectLen bytes, not empty.
func validSubject(s string) bool {
	if s == "" || len(s) > MaxSubjectLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
