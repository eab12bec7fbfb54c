// Package identity verifies access tokens issued by a host application's
// own identity provider (IdP), so that its users sign in to this service
// with the tokens they already have ("bring your own identity").
//
// A Source verifies the tokens of one provider: the signature with a key
// of the provider's JWKS (KeySet: JWKS fetched over HTTP, or StaticKeys),
// an algorithm pinned by configuration and matching the key, and the iss,
// aud, exp, nbf and iat claims. It returns the external identity (issuer,
// subject, nickname, avatar); linking it to a user of this service is the
// service's business (internal/service, identities.go).
package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
)

// Claims are the verified contents of an external access token.
type Claims struct {
	Issuer    string    // iss
	Subject   string    // the configured user claim (sub by default)
	Nickname  string    // the configured nickname claim; may be empty
	Avatar    string    // the configured avatar claim; may be empty
	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat (required)
	ID        string    // jti; may be empty
}

// Source verifies the access tokens of one identity provider.
type Source interface {
	// Issuer is the provider's iss: tokens naming it are routed here.
	Issuer() string
	// Verify checks token and returns its claims. A refused token is an
	// error wrapping auth.ErrInvalidToken (a *TokenError with a reason
	// that may be shown to the client).
	Verify(ctx context.Context, token string) (Claims, error)
}

// TokenError is a refused token with a reason fit for the client: it names
// the check that failed, never a secret.
type TokenError struct {
	Reason string
	Err    error // the cause, for logs; may be nil
}

func (e *TokenError) Error() string {
	if e.Err != nil {
		return "identity: " + e.Reason + ": " + e.Err.Error()
	}
	return "identity: " + e.Reason
}

// Unwrap gives auth.ErrInvalidToken and the cause.
func (e *TokenError) Unwrap() []error { return []error{auth.ErrInvalidToken, e.Err} }

func refuse(reason string, err error) error { return &TokenError{Reason: reason, Err: err} }

// Reason returns the client-facing reason of a refused token, or "" when
// err is no TokenError.
func Reason(err error) string {
	var te *TokenError
	if errors.As(err, &te) {
		return te.Reason
	}
	return ""
}

// PeekIssuer returns the iss claim of a compact JWS without verifying
// anything (to route the token to the verifier of its issuer; the chosen
// verifier then checks everything). It returns "" when the token is not a
// compact JWS of at most maxSize bytes with a JSON payload holding a
// string iss.
func PeekIssuer(token string, maxSize int) string {
	if token == "" || len(token) > maxSize {
		return ""
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss any `json:"iss"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	s, _ := c.Iss.(string)
	return s
}
