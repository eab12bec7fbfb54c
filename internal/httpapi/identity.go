package httpapi

import (
	"errors"
	"net/http"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// writeTokenError answers a request whose bearer token was refused. The
// verifier may be the service's Authenticator (bring your own identity):
// a refused token is an unauthenticated *protocol.Error saying why, a
// store outage while linking a first-seen user is unavailable; the
// built-in verifier's errors keep their generic answer.
func (s *Server) writeTokenError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *protocol.Error
	switch {
	case errors.As(err, &pe) && pe.Code == protocol.CodeUnavailable:
		s.writeError(w, r, pe)
	case errors.As(err, &pe) && pe.Code == protocol.CodeUnauthenticated:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		s.writeError(w, r, protocol.Errorf(protocol.CodeUnauthenticated, "%s", pe.Message))
	default:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		s.writeError(w, r, protocol.Errorf(protocol.CodeUnauthenticated, "invalid or expired token"))
	}
}

// builtinOnly are the routes of the built-in email sign-in.
var builtinOnly = map[string]bool{
	"/v1/auth/email-code":             true,
	"/v1/auth/register":               true,
	"/v1/auth/login":                  true,
	"/v1/auth/password-reset":         true,
	"/v1/auth/password-reset/confirm": true,
}

// builtinAuthSwitch answers forbidden on the built-in sign-in routes when
// Options.BuiltinAuthDisabled is set (IM_BUILTIN_AUTH=false): users then
// sign in with the host app's identity provider only. Refresh and logout
// stay open for sessions that exist.
func (s *Server) builtinAuthSwitch(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.BuiltinAuthDisabled && builtinOnly[r.URL.Path] {
			s.writeError(w, r, protocol.Errorf(protocol.CodeForbidden,
				"built-in email sign-in is disabled on this server; sign in with the host application's identity provider"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
