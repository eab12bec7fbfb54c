package auth

import "context"

// TokenVerifier checks an access token and returns its claims; a refused
// token is an error wrapping ErrInvalidToken. *Verifier is one; so is the
// service's Authenticator, which also accepts the tokens of the host
// application's identity provider (pkg/identity).
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (Claims, error)
}

var _ TokenVerifier = (*Verifier)(nil)
