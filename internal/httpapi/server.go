// Package httpapi is the REST API of the contract over go-chi: small
// handlers that decode, call the service and encode, and middleware that
// each do one thing (recovery, logging, metrics, CORS, authentication).
package httpapi

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/admission"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// Options configure the server; the zero value works.
type Options struct {
	MaxBody        int64    // request body limit; default 64 KiB
	AllowedOrigins []string // CORS allowlist; empty: no cross-origin access
	// TrustProxy takes the client address from X-Forwarded-For's last
	// entry, the one the proxy in front of us added (only behind a proxy
	// that sets it; earlier entries come from the client and may be forged).
	TrustProxy bool
	// Ready reports whether the dependencies are reachable (/readyz).
	Ready func(ctx context.Context) error
	// Mount adds routes (the web client, /ws in standalone mode).
	Mount func(r chi.Router)
	// Registry receives the HTTP metrics; nil: a private registry.
	Registry *prometheus.Registry
	// AdminKeys are the keys of the admin API (IM_ADMIN_KEYS), each at
	// least MinAdminKey characters (shorter ones are ignored); none: the
	// admin API is disabled (its routes answer 404).
	AdminKeys []string

	// BuiltinAuthDisabled closes the built-in email sign-in (register,
	// login, email codes, password reset: 403) when users come from the
	// host app's identity provider only (IM_BUILTIN_AUTH=false).
	BuiltinAuthDisabled bool

	// MaxStoreInFlight bounds the message writes (sends, edits, recalls,
	// reactions) this API lets into the store at once; default 32. One
	// that finds no free slot within StoreQueueWait (default 100ms) is
	// answered 503 `unavailable` with a Retry-After at once, before any
	// store work. The writes get at most seven eighths of the slots, fewer
	// while they take longer than StoreLatencyTarget (default 1s, a third
	// of the service's store timeout): a store slower than the offered
	// load then answers the writes it lets in, instead of all of them
	// timing out and being retried (see admission.Gate).
	MaxStoreInFlight   int
	StoreQueueWait     time.Duration
	StoreLatencyTarget time.Duration
}

// Server is the REST API.
type Server struct {
	svc      *service.Service
	verifier auth.TokenVerifier
	jwks     func() ([]byte, error)
	log      *zap.Logger
	opts     Options
	router   chi.Router
	metrics  *metrics
	gate     *admission.Gate
}

// New builds the API. jwks returns the JWKS document to serve.
func New(svc *service.Service, verifier auth.TokenVerifier, jwks func() ([]byte, error), log *zap.Logger, opts Options) *Server {
	if opts.MaxBody <= 0 {
		opts.MaxBody = 64 << 10
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.MaxStoreInFlight <= 0 {
		opts.MaxStoreInFlight = 32
	}
	s := &Server{svc: svc, verifier: verifier, jwks: jwks, log: log, opts: opts, metrics: newMetrics(opts.Registry),
		gate: admission.New(admission.Options{Size: opts.MaxStoreInFlight, Wait: opts.StoreQueueWait,
			Target: opts.StoreLatencyTarget, Metrics: admission.NewMetrics(
				prometheus.Opts{Name: "im_http_store_inflight", Help: "Message writes (sends, edits, recalls, reactions) in the store now through this API."},
				prometheus.Opts{Name: "im_http_store_send_limit", Help: "Message writes this API lets into the store at once now (adapts to the store's latency)."},
				prometheus.Opts{Name: "im_http_shed_total", Help: "Message writes refused with unavailable because this API's store slots were all taken, by operation."})})}
	for _, c := range s.gate.Collectors() {
		_ = opts.Registry.Register(c)
	}
	s.router = s.routes()
	return s
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.router.ServeHTTP(w, r) }

// Router exposes the chi router (the route-list test walks it).
func (s *Server) Router() chi.Router { return s.router }

func (s *Server) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.accessLog, s.instrument, securityHeaders, s.cors)
	r.Use(s.builtinAuthSwitch) // identity.go: IM_BUILTIN_AUTH=false closes email sign-in
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, protocol.Errorf(protocol.CodeNotFound, "no such route"))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		// The contract has no code of its own for 405; the body keeps
		// the contract's shape with the closest code.
		var b errorBody
		b.Error.Code, b.Error.Message = protocol.CodeNotFound, "method not allowed on this route"
		writeJSON(w, http.StatusMethodNotAllowed, b)
	})
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	r.Get("/readyz", s.readyz)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}))
	r.Get("/.well-known/jwks.json", s.jwksHandler)

	r.Route("/v1", func(r chi.Router) {
		r.Post("/auth/email-code", s.emailCode)
		r.Post("/auth/register", s.register)
		r.Post("/auth/login", s.login)
		r.Post("/auth/refresh", s.refresh)
		r.Post("/auth/logout", s.logout)
		r.Post("/auth/password-reset", s.passwordReset)
		r.Post("/auth/password-reset/confirm", s.passwordResetConfirm)

		r.Group(func(r chi.Router) {
			r.Use(s.authenticate)
			r.Get("/me", s.me)
			r.Patch("/me", s.updateMe)
			r.Delete("/me", s.deleteMe)
			r.Post("/me/password", s.changePassword)
			r.Post("/me/email-code", s.emailChangeCode)
			r.Post("/me/email", s.changeEmail)
			r.Get("/me/sessions", s.sessions)
			r.Delete("/me/sessions/{id}", s.endSession)
			r.Post("/me/push-tokens", s.addPushToken)
			r.Get("/me/push-tokens", s.pushTokens)
			r.Delete("/me/push-tokens", s.removePushToken)
			r.Post("/auth/logout-all", s.logoutAll)
			r.Get("/users/{account}", s.user)
			r.Get("/users", s.usersByID)
			r.Get("/presence", s.presence)

			r.Get("/friends", s.friends)
			r.Get("/friends/{account}", s.isFriend)
			r.Delete("/friends/{account}", s.deleteFriend)
			r.Post("/friend-requests", s.sendFriendRequest)
			r.Get("/friend-requests", s.friendRequests)
			r.Post("/friend-requests/{id}/accept", s.acceptFriendRequest)
			r.Post("/friend-requests/{id}/decline", s.declineFriendRequest)
			r.Get("/blocks", s.blocks)
			r.Put("/blocks/{account}", s.block)
			r.Delete("/blocks/{account}", s.unblock)

			r.Post("/groups", s.createGroup)
			r.Get("/groups", s.groups)
			r.Get("/groups/{id}", s.group)
			r.Delete("/groups/{id}", s.disbandGroup)
			r.Post("/groups/{id}/members", s.addGroupMembers)
			r.Delete("/groups/{id}/members/{account}", s.removeGroupMember)
			r.Get("/groups/{id}/members", s.groupMembers)
			r.Post("/groups/{id}/transfer", s.transferGroup)
			r.Put("/groups/{id}/admins/{account}", s.addAdmin)
			r.Delete("/groups/{id}/admins/{account}", s.removeAdmin)
			r.Put("/groups/{id}/mutes/{account}", s.muteMember)
			r.Delete("/groups/{id}/mutes/{account}", s.unmuteMember)
			r.Put("/groups/{id}/mute-all", s.muteAll)
			r.Delete("/groups/{id}/mute-all", s.unmuteAll)
			r.Put("/groups/{id}/announcement", s.setAnnouncement)
			r.Delete("/groups/{id}/announcement", s.clearAnnouncement)
			r.Get("/groups/{id}/pins", s.pins)
			r.Put("/groups/{id}/pins/{seq}", s.pin)
			r.Delete("/groups/{id}/pins/{seq}", s.unpin)
			r.Post("/groups/{id}/join-requests", s.requestToJoin)
			r.Get("/groups/{id}/join-requests", s.joinRequests)
			r.Post("/groups/{id}/join-requests/{account}/approve", s.approveJoinRequest)
			r.Delete("/groups/{id}/join-requests/{account}", s.declineJoinRequest)
			r.Post("/groups/{id}/invites", s.createInvite)
			r.Get("/groups/{id}/invites", s.invites)
			r.Delete("/groups/{id}/invites/{invite}", s.revokeInvite)
			r.Post("/invites/{token}/join", s.joinByInvite)

			r.Get("/conversations", s.conversations)
			r.Get("/rooms/{id}/messages", s.history)
			r.With(s.admit).Post("/rooms/{id}/messages", s.sendMessage)
			r.Post("/rooms/{id}/read", s.markRead)
			r.With(s.admit).Patch("/rooms/{id}/messages/{seq}", s.editMessage)
			r.With(s.admit).Post("/rooms/{id}/messages/{seq}/recall", s.recallMessage)
			r.With(s.admit).Put("/rooms/{id}/messages/{seq}/reactions/{emoji}", s.react)
			r.With(s.admit).Delete("/rooms/{id}/messages/{seq}/reactions/{emoji}", s.unreact)
			r.Get("/rooms/{id}/messages/{seq}/reactions/{emoji}", s.reactors)
			r.Get("/rooms/{id}/messages/{seq}/readers", s.readers)
			r.Post("/rooms/{id}/hide", s.hideMessages)
			r.Post("/rooms/{id}/files", s.uploadFile)
			r.Get("/files/{id}", s.downloadFile)
			r.Get("/files/{id}/thumbnail", s.downloadThumb)
		})

		// The admin API (admin.go): server to server, admin keys only.
		r.Group(func(r chi.Router) {
			r.Use(s.requireAdmin)
			r.Post("/admin/users", s.adminProvision)
			r.Get("/admin/users", s.adminUsers)
			r.Get("/admin/users/{id}", s.adminUser)
			r.Post("/admin/users/{id}/tokens", s.adminMintTokens)
			r.Put("/admin/users/{id}/ban", s.adminBan)
			r.Delete("/admin/users/{id}/ban", s.adminUnban)
			r.Post("/admin/users/{id}/logout", s.adminLogout)
			r.Post("/admin/users/{id}/notices", s.adminUserNotice)
			r.Post("/admin/broadcasts", s.adminBroadcast)
			r.Get("/admin/groups", s.adminGroups)
			r.Get("/admin/rooms", s.adminRooms)
			r.Post("/admin/rooms/{id}/messages", s.adminRoomMessage)
			r.Delete("/admin/rooms/{id}/messages/{seq}", s.adminDeleteMessage)
			r.Get("/admin/stats", s.adminStats)
			// Webhook dead letters (docs/integration.md).
			r.Get("/admin/webhooks/dead-letters", s.deadLetters)
			r.Post("/admin/webhooks/dead-letters/{id}/replay", s.replayDeadLetter)
		})
	})
	if s.opts.Mount != nil {
		s.opts.Mount(r)
	}
	return r
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.opts.Ready(ctx); err != nil {
			s.log.Warn("not ready", zap.Error(err))
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

func (s *Server) jwksHandler(w http.ResponseWriter, r *http.Request) {
	b, err := s.jwks()
	if err != nil {
		s.writeError(w, r, protocol.Internal(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(b)
}

// clientIP is the address rate limits count against.
func (s *Server) clientIP(r *http.Request) string {
	if s.opts.TrustProxy {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			last := xff[len(xff)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
