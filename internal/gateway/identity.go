package gateway

import (
	"errors"
	"net/http"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Token refusals. The verifier may be the service's Authenticator, which
// also accepts the host app's identity provider tokens (bring your own
// identity): it answers a refused token with an unauthenticated
// *protocol.Error whose message says why ("invalid token: token expired"),
// and a store outage while linking a first-seen user with unavailable.

// rejectToken answers the upgrade request whose token was refused.
func (g *Gateway) rejectToken(w http.ResponseWriter, err error) {
	var pe *protocol.Error
	switch {
	case errors.As(err, &pe) && pe.Code == protocol.CodeUnavailable:
		g.m.rejected.WithLabelValues("unavailable").Inc()
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, "service temporarily unavailable")
	case errors.As(err, &pe) && pe.Code == protocol.CodeUnauthenticated:
		g.m.rejected.WithLabelValues("token").Inc()
		httpError(w, http.StatusUnauthorized, protocol.CodeUnauthenticated, pe.Message)
	default:
		g.m.rejected.WithLabelValues("token").Inc()
		httpError(w, http.StatusUnauthorized, protocol.CodeUnauthenticated, "missing, invalid or expired token")
	}
}

// refreshError is the error frame for a refused refresh token (err nil:
// the token is another user's).
func refreshError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) && (pe.Code == protocol.CodeUnavailable || pe.Code == protocol.CodeUnauthenticated) {
		return pe
	}
	return protocol.Errorf(protocol.CodeUnauthenticated, "invalid token")
}
