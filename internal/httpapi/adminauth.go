package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// MinAdminKey is the shortest admin key accepted (IM_ADMIN_KEYS).
const MinAdminKey = 32

// AdminKeyFingerprint names an admin key in logs without telling it: the
// first 8 hex digits of its SHA-256.
func AdminKeyFingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:4])
}

// adminKey returns the fingerprint of the admin key the bearer token is,
// or ok false. Every configured key is compared, in constant time on
// SHA-256 digests (equal lengths whatever the token), and the loop does
// not stop at a match, so the time tells nothing about the keys.
func (s *Server) adminKey(token string) (fingerprint string, ok bool) {
	got := sha256.Sum256([]byte(token))
	for _, k := range s.opts.AdminKeys {
		if len(k) < MinAdminKey {
			continue
		}
		want := sha256.Sum256([]byte(k))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 && !ok {
			fingerprint, ok = hex.EncodeToString(want[:4]), true
		}
	}
	return fingerprint, ok
}

// adminEnabled reports whether at least one usable admin key is set.
func (s *Server) adminEnabled() bool {
	for _, k := range s.opts.AdminKeys {
		if len(k) >= MinAdminKey {
			return true
		}
	}
	return false
}

// requireAdmin guards the admin API (/v1/admin/...). The caller sends
// "Authorization: Bearer <admin key>", one of Options.AdminKeys
// (IM_ADMIN_KEYS). Without admin keys configured the admin API does not
// exist: every admin route answers 404 not_found. No credentials: 401
// unauthenticated; anything else that is not an admin key, a user's access
// token included: 403 forbidden. Every call, refused or not, is logged at
// info level ("admin call"): method, path, route, the key's fingerprint
// (never the key), client address, status and duration.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		key := "none"
		defer func() {
			s.log.Info("admin call", zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.String("key", key), zap.String("ip", s.clientIP(r)),
				zap.Int("status", sw.status), zap.Duration("took", time.Since(start)))
		}()
		if !s.adminEnabled() {
			s.writeError(sw, r, protocol.Errorf(protocol.CodeNotFound, "no such route"))
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok = strings.TrimSpace(tok)
		if !ok || tok == "" {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="admin"`)
			s.writeError(sw, r, protocol.Errorf(protocol.CodeUnauthenticated, "missing admin key"))
			return
		}
		fp, ok := s.adminKey(tok)
		if !ok {
			key = "invalid"
			s.writeError(sw, r, protocol.Errorf(protocol.CodeForbidden, "not an admin key"))
			return
		}
		key = fp
		next.ServeHTTP(sw, r)
	})
}
