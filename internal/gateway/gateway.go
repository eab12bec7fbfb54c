// Package gateway holds clients' WebSocket connections on one node. It
// authenticates the upgrade, stores each sent message through the service
// (which publishes it on the bus), and delivers what the bus brings for
// rooms with members connected here, in seq order. Connections live in an
// epoll loop (internal/wsnet): an idle one costs no goroutine.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/admission"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/internal/wsnet"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/presence"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/stats"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Options configure a Gateway; the zero value works.
type Options struct {
	NodeID          string
	AllowedOrigins  []string      // empty: any Origin
	Heartbeat       time.Duration // advertised in hello; default 30s
	MaxConnsPerUser int           // default 16
	SendRate        float64       // sends per second per connection; default 20
	SendBurst       float64       // default 40
	SyncBudget      int           // messages per sync frame, over all rooms; default 200
	SyncRate        float64       // sync frames per second per connection; default 5
	SyncBurst       float64       // default 10
	MemberTTL       time.Duration // how long a cached membership is trusted; default 60s
	OpTimeout       time.Duration // bound on one store operation; default 10s
	ExpiryCheck     time.Duration // how often expired tokens are looked for; default 5s
	// RevocationCheck is how often every socket's token is checked against
	// the revocations, behind the session_revoked events; default 30s.
	RevocationCheck time.Duration
	// MaxStoreInFlight bounds the store operations (sends, syncs, read
	// marks) in flight on this node; default three quarters of the frame
	// workers (WS.Workers), so a slow store never takes them all and pings
	// and other frames still flow. One that finds no free slot within
	// StoreQueueWait (default 100ms) is refused `unavailable`. New sends
	// get at most seven eighths of the slots, fewer while sends take
	// longer than StoreLatencyTarget (default 1s, a third of the service's
	// store timeout, past which work is wasted) in the store: the
	// rest stays free for syncs, read marks and gap fills (see admission.Gate).
	// A send (or change) frame that already waited StoreMaxFrameAge in the
	// node, for a worker or behind its connection's earlier frames, is
	// refused at once when no send slot is free: the node is behind, and
	// its waiting frames are answered at the rate they are read instead of
	// one per StoreQueueWait per worker. Zero: off (the binaries'
	// IM_STORE_MAX_FRAME_AGE defaults to 1s). Clients should pause a
	// connection's sends after a refusal (docs/protocol.md §6): others
	// answer every refusal with more sends.
	MaxStoreInFlight   int
	StoreQueueWait     time.Duration
	StoreLatencyTarget time.Duration
	StoreMaxFrameAge   time.Duration
	// Presence keeps the node's presence records (nil: presence is off:
	// no records, no presence events; typing still works).
	Presence presence.Presence
	// PresenceInterval is how often the node renews all its users'
	// records in one batch; they live for two intervals, so a killed
	// node's users read offline within two intervals and are announced
	// offline by a surviving node within three. Default: half the
	// Heartbeat.
	PresenceInterval time.Duration
	// PresenceGrace is how long after a user's last connection here
	// closed the record is kept: a reconnect within it (to any node)
	// sends no presence event. Default 5s.
	PresenceGrace time.Duration
	// TypingInterval: at most one "typing on" relay per user and room per
	// interval on this node; default 2s. TypingTTL is the expires_ms told
	// to receivers (the indicator ends by itself); default 6s.
	TypingInterval time.Duration
	TypingTTL      time.Duration
	// TypingRate and TypingBurst bound the typing frames of one
	// connection (a token bucket); past it they are dropped. Defaults 2
	// per second, burst 6. MaxTypingKeys bounds the limiter's (user,
	// room) entries on the node; default 65536.
	TypingRate    float64
	TypingBurst   float64
	MaxTypingKeys int
	WS            wsnet.Options
	Registry      prometheus.Registerer
	Log           *zap.Logger

	// Stats receives the node's counts (connected users, connections)
	// and the messages it stored, every StatsInterval (default 5s), for
	// the admin API (stats.go); nil: not reported.
	Stats         stats.Stats
	StatsInterval time.Duration

	// UserLayout is where the node takes user events from
	// (IM_BUS_USER_CHANNELS; "": bus.UserLayoutShards): the user shard
	// channels, or each online user's own channel (see bus.UserLayout).
	UserLayout bus.UserLayout
}

func (o *Options) defaults() {
	if o.NodeID == "" {
		o.NodeID = "gateway"
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 30 * time.Second
	}
	if o.MaxConnsPerUser == 0 {
		o.MaxConnsPerUser = 16
	}
	if o.SendRate <= 0 {
		o.SendRate = 20
	}
	if o.SendBurst <= 0 {
		o.SendBurst = 2 * o.SendRate
	}
	if o.SyncBudget <= 0 {
		o.SyncBudget = 200
	}
	if o.SyncRate <= 0 {
		o.SyncRate = 5
	}
	if o.SyncBurst <= 0 {
		o.SyncBurst = 2 * o.SyncRate
	}
	if o.MemberTTL <= 0 {
		o.MemberTTL = time.Minute
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 10 * time.Second
	}
	if o.ExpiryCheck <= 0 {
		o.ExpiryCheck = 5 * time.Second
	}
	if o.RevocationCheck <= 0 {
		o.RevocationCheck = 30 * time.Second
	}
	if o.MaxStoreInFlight <= 0 {
		workers := o.WS.Workers
		if workers <= 0 {
			workers = wsnet.DefaultWorkers()
		}
		o.MaxStoreInFlight = max(1, workers*3/4)
	}
	if o.StoreQueueWait <= 0 {
		o.StoreQueueWait = 100 * time.Millisecond
	}
	if o.StoreLatencyTarget <= 0 {
		o.StoreLatencyTarget = time.Second
	}
	if o.PresenceInterval <= 0 {
		o.PresenceInterval = o.Heartbeat / 2
	}
	if o.PresenceGrace <= 0 {
		o.PresenceGrace = 5 * time.Second
	}
	if o.TypingInterval <= 0 {
		o.TypingInterval = 2 * time.Second
	}
	if o.TypingTTL <= 0 {
		o.TypingTTL = 6 * time.Second
	}
	if o.TypingRate <= 0 {
		o.TypingRate = 2
	}
	if o.TypingBurst <= 0 {
		o.TypingBurst = 3 * o.TypingRate
	}
	if o.MaxTypingKeys <= 0 {
		o.MaxTypingKeys = 65536
	}
	if o.WS.IdleTimeout == 0 {
		o.WS.IdleTimeout = 3 * o.Heartbeat
	}
	if o.WS.WriteQueue == 0 {
		o.WS.WriteQueue = 1024
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
}

// Gateway serves /ws. It is a bus.Handler for the node's bus.
type Gateway struct {
	svc  *service.Service
	ver  auth.TokenVerifier
	opts Options
	log  *zap.Logger
	ws   *wsnet.Server
	hub  *hub
	m    *metrics
	gate *admission.Gate
	pm   *presenceManager // nil: presence off
	typ  *typingLimiter

	draining atomic.Bool
	shards   atomic.Pointer[bus.ShardCounter] // the bus's per-shard counts, if it has them
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

// client is one connection's state.
type client struct {
	uid  string
	conn atomic.Pointer[wsnet.Conn]
	exp  atomic.Int64 // token expiry, unix nanoseconds
	tok  atomic.Pointer[tokenInfo]

	// send, sync and typing token buckets; touched only from OnMessage,
	// which wsnet never runs concurrently for one connection.
	sendB, syncB, typB bucket

	g *Gateway
}

func (c *client) send(frame []byte) {
	if conn := c.conn.Load(); conn != nil && conn.Send(frame) {
		c.g.m.framesOut.Inc()
	}
}

// New builds a Gateway. Call SetBus before serving, then Run.
func New(svc *service.Service, ver auth.TokenVerifier, opts Options) (*Gateway, error) {
	opts.defaults()
	g := &Gateway{svc: svc, ver: ver, opts: opts, log: opts.Log,
		gate: admission.New(admission.Options{Size: opts.MaxStoreInFlight, Wait: opts.StoreQueueWait,
			Target: opts.StoreLatencyTarget, MaxAge: opts.StoreMaxFrameAge, Metrics: newGateMetrics()})}
	var err error
	if g.ws, err = wsnet.NewServer(g, opts.WS); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	g.m = newMetrics(opts.Registry, g)
	g.typ = newTypingLimiter(opts.TypingInterval, opts.TypingTTL, opts.MaxTypingKeys)
	if opts.Presence != nil {
		g.pm = newPresenceManager(opts.Presence, opts.NodeID, opts.PresenceInterval, opts.PresenceGrace, g.log, g.m,
			func(ctx context.Context, t transition) error { return svc.AnnouncePresence(ctx, t.uid, t.online, t.at) })
	}
	return g, nil
}

// SetBus gives the gateway the bus it subscribes on (the bus is built with
// the gateway as its Handler, hence the two steps).
func (g *Gateway) SetBus(b bus.Bus) {
	if sc, ok := b.(bus.ShardCounter); ok {
		g.shards.Store(&sc)
	}
	g.hub = newHub(b, g.log)
	g.hub.shards = g.opts.UserLayout.SubscribesShards()
	g.hub.fill = g.fill
	g.hub.gaveUp = g.m.gapsAbandoned.Inc
	g.hub.churn = func(op string, n, subscribed int) {
		g.m.busChurn.WithLabelValues(op).Add(float64(n))
		g.m.busChannels.Set(float64(subscribed))
	}
	if g.pm != nil {
		g.hub.first, g.hub.last = g.pm.connected, g.pm.disconnected
	}
}

// Run starts the background work (subscriptions, token expiry) until
// Close.
func (g *Gateway) Run() {
	ctx, cancel := context.WithCancel(context.Background())
	g.stop = cancel
	g.wg.Add(3)
	go func() { defer g.wg.Done(); g.hub.run(ctx) }()
	go func() { defer g.wg.Done(); g.expiryLoop(ctx) }()
	go func() { defer g.wg.Done(); g.revocationLoop(ctx) }()
	if g.pm != nil {
		g.wg.Add(2)
		go func() { defer g.wg.Done(); g.pm.run(ctx) }()
		go func() { defer g.wg.Done(); g.pm.announcer(ctx, g.opts.OpTimeout) }()
	}
	if g.opts.Stats != nil {
		g.wg.Add(1)
		go func() { defer g.wg.Done(); g.statsLoop(ctx) }()
	}
}

// Len is the number of open connections.
func (g *Gateway) Len() int { return g.ws.Len() }

// Stats are the transport's counters.
func (g *Gateway) Stats() wsnet.Stats { return g.ws.Stats() }

// Settled reports whether the node's bus subscriptions match its
// connections' rooms (tests wait for it instead of sleeping).
func (g *Gateway) Settled() bool { return g.hub.settled() }

// Draining reports whether Drain has begun (readiness turns false).
func (g *Gateway) Draining() bool { return g.draining.Load() }

func (g *Gateway) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), g.opts.OpTimeout)
}

func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`+"\n", code, msg)
}

// ServeHTTP authenticates and upgrades a WebSocket request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.draining.Load() {
		g.m.rejected.WithLabelValues("draining").Inc()
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, "this node is shutting down; connect to another")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && len(g.opts.AllowedOrigins) > 0 && !slices.Contains(g.opts.AllowedOrigins, o) {
		g.m.rejected.WithLabelValues("origin").Inc()
		httpError(w, http.StatusForbidden, protocol.CodeForbidden, "origin not allowed")
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		tok = r.URL.Query().Get("access_token")
	}
	claims, err := g.ver.Verify(r.Context(), strings.TrimSpace(tok))
	if err != nil {
		g.rejectToken(w, err)
		return
	}
	ctx, cancel := g.opCtx()
	if err := g.svc.CheckToken(ctx, claims); err != nil {
		cancel()
		e := protocol.AsError(err)
		if e.Code == protocol.CodeUnauthenticated {
			g.m.rejected.WithLabelValues("revoked").Inc()
			httpError(w, http.StatusUnauthorized, e.Code, e.Message)
		} else {
			g.m.rejected.WithLabelValues("unavailable").Inc()
			httpError(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, "service temporarily unavailable")
		}
		return
	}
	rooms, err := g.svc.RoomsOf(ctx, claims.UserID)
	var heads []int64
	if err == nil {
		heads, err = g.svc.SeqHeads(ctx, rooms)
	}
	cancel()
	if err != nil {
		g.m.rejected.WithLabelValues("unavailable").Inc()
		httpError(w, http.StatusServiceUnavailable, protocol.CodeUnavailable, "service temporarily unavailable")
		return
	}
	now := monoNow()
	c := &client{uid: claims.UserID, g: g,
		sendB: bucket{tokens: g.opts.SendBurst, last: now}, syncB: bucket{tokens: g.opts.SyncBurst, last: now},
		typB: bucket{tokens: g.opts.TypingBurst, last: now}}
	c.exp.Store(claims.ExpiresAt.UnixNano())
	c.setToken(claims)
	conn, err := g.ws.Upgrade(w, r, c)
	if err != nil {
		return // wsnet answered the request
	}
	c.conn.Store(conn)
	if !g.hub.join(c, rooms, heads, g.opts.MaxConnsPerUser) {
		g.m.rejected.WithLabelValues("too_many_connections").Inc()
		c.send(protocol.EncodeError(protocol.Errorf(protocol.CodeRateLimited, "too many connections for this user"), ""))
		conn.Close(ws.StatusPolicyViolation, "too many connections")
		return
	}
	// If the client vanished while the upgrade returned, OnClose may have
	// run before join: Send fails on a closing connection, so leave here.
	if !conn.Send(protocol.EncodeHello(c.uid, g.opts.NodeID, int(g.opts.Heartbeat/time.Second))) {
		g.hub.leave(c)
		return
	}
	g.m.framesOut.Inc()
}

// OnClose implements wsnet.Handler.
func (g *Gateway) OnClose(conn *wsnet.Conn, err error) {
	if c, ok := conn.Data().(*client); ok {
		g.hub.leave(c)
	}
	g.m.closed.WithLabelValues(closeReason(err)).Inc()
}

// closeReason names why a connection ended, for the metrics.
func closeReason(err error) string {
	var ce *wsnet.CloseError
	switch {
	case errors.Is(err, wsnet.ErrSlowConsumer):
		return "slow_consumer"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "write_timeout"
	case errors.Is(err, wsnet.ErrIdleTimeout):
		return "idle"
	case errors.Is(err, wsnet.ErrReadTimeout):
		return "read_timeout"
	case errors.Is(err, wsnet.ErrServerClosed):
		return "server_closed"
	case errors.Is(err, wsnet.ErrMessageTooBig), errors.Is(err, wsnet.ErrProtocol),
		errors.Is(err, wsnet.ErrUnsupportedData), errors.Is(err, wsnet.ErrInvalidUTF8):
		return "protocol"
	case errors.As(err, &ce):
		if ce.Remote {
			return "client_closed"
		}
		return "server_closed"
	default:
		return "gone"
	}
}

// OnMessage implements wsnet.Handler: one client frame.
func (g *Gateway) OnMessage(conn *wsnet.Conn, payload []byte) {
	c, ok := conn.Data().(*client)
	if !ok {
		return
	}
	c.conn.CompareAndSwap(nil, conn)
	g.m.framesIn.Inc()
	if time.Now().UnixNano() > c.exp.Load() {
		c.send(protocol.EncodeError(protocol.Errorf(protocol.CodeUnauthenticated, "token expired"), ""))
		conn.Close(ws.StatusPolicyViolation, "token expired")
		return
	}
	in, err := protocol.Decode(payload)
	if errors.Is(err, protocol.ErrMalformed) {
		conn.Close(ws.StatusInvalidFramePayloadData, "malformed JSON")
		return
	}
	if err != nil {
		c.send(protocol.EncodeError(protocol.AsError(err), in.ClientMsgID))
		return
	}
	switch in.Type {
	case protocol.TypeSend:
		g.onSend(c, &in)
	case protocol.TypeSync:
		g.onSync(c, &in)
	case protocol.TypeEdit, protocol.TypeRecall, protocol.TypeReact, protocol.TypeUnreact:
		g.onChange(c, &in)
	case protocol.TypeHide:
		release, err := g.gate.Acquire("hide")
		if err == nil {
			ctx, cancel := g.opCtx()
			err = g.svc.Hide(ctx, c.uid, in.RoomID, in.Seqs)
			cancel()
			release()
		}
		if err != nil {
			c.send(protocol.EncodeRoomError(protocol.AsError(err), in.RoomID))
		}
	case protocol.TypeRead:
		release, err := g.gate.Acquire("read")
		if err == nil {
			ctx, cancel := g.opCtx()
			err = g.svc.MarkRead(ctx, c.uid, in.RoomID, *in.Seq)
			cancel()
			release()
		}
		if err != nil {
			c.send(protocol.EncodeRoomError(protocol.AsError(err), in.RoomID))
			if e := protocol.AsError(err); e.Code == protocol.CodeInternal {
				g.log.Warn("read failed", zap.String("room", in.RoomID), zap.Error(e.Cause))
			}
		}
	case protocol.TypeTyping:
		g.onTyping(c, &in)
	case protocol.TypePing:
		c.send(protocol.EncodePong)
	case protocol.TypeRefresh:
		vctx, vcancel := g.opCtx()
		claims, err := g.ver.Verify(vctx, in.AccessToken)
		vcancel()
		if err != nil || claims.UserID != c.uid {
			c.send(protocol.EncodeError(refreshError(err), ""))
			return
		}
		ctx, cancel := g.opCtx()
		err = g.svc.CheckToken(ctx, claims)
		cancel()
		if err != nil {
			c.send(protocol.EncodeError(protocol.AsError(err), ""))
			return
		}
		c.exp.Store(claims.ExpiresAt.UnixNano())
		c.setToken(claims)
	}
}

// bucket is a token bucket. It is 16 bytes (a node keeps three per
// connection): the last refill is monotonic nanoseconds from monoNow.
type bucket struct {
	tokens float64
	last   int64
}

// monoStart anchors monoNow; it never changes after package init.
var monoStart = time.Now()

// monoNow is a monotonic clock in nanoseconds (wall-clock jumps do not
// refill or drain the buckets).
func monoNow() int64 { return int64(time.Since(monoStart)) }

// allow takes a token if there is one.
func (b *bucket) allow(rate, burst float64) bool {
	now := monoNow()
	b.tokens = min(burst, b.tokens+float64(now-b.last)/float64(time.Second)*rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (g *Gateway) onSend(c *client, in *protocol.Inbound) {
	var replyTo int64
	if in.ReplyTo != nil {
		replyTo = *in.ReplyTo
	}
	var body string
	if in.Body != nil {
		body = *in.Body
	}
	g.store(c, in, func(ctx context.Context, known bool) (*store.Message, error) {
		m, _, err := g.svc.Send(ctx, service.SendInput{UserID: c.uid, RoomID: in.RoomID, Body: body,
			ClientMsgID: in.ClientMsgID, MemberChecked: known, Kind: in.Kind, ReplyTo: replyTo,
			Mentions: in.Mentions, FileID: in.FileID, Data: in.Data})
		return m, err
	})
}

// onChange handles edit, recall, react and unreact: each is stored as a
// message of the room (a change event) and acked like a send, and counts
// against the same rate.
func (g *Gateway) onChange(c *client, in *protocol.Inbound) {
	var body string
	if in.Body != nil {
		body = *in.Body
	}
	g.store(c, in, func(ctx context.Context, known bool) (*store.Message, error) {
		ch := service.ChangeInput{UserID: c.uid, RoomID: in.RoomID, ClientMsgID: in.ClientMsgID,
			Seq: *in.Seq, Body: body, Emoji: in.Emoji, MemberChecked: known}
		var m *store.Message
		var err error
		switch in.Type {
		case protocol.TypeEdit:
			m, _, err = g.svc.Edit(ctx, ch)
		case protocol.TypeRecall:
			m, _, err = g.svc.Recall(ctx, ch)
		default:
			m, _, err = g.svc.React(ctx, ch, in.Type == protocol.TypeReact)
		}
		return m, err
	})
}

// store runs one frame that stores a message (a send or a change) under
// the send rate and the store gate, and answers ack or error.
func (g *Gateway) store(c *client, in *protocol.Inbound, do func(ctx context.Context, known bool) (*store.Message, error)) {
	if !c.sendB.allow(g.opts.SendRate, g.opts.SendBurst) {
		c.send(protocol.EncodeError(protocol.RateLimited(time.Second), in.ClientMsgID))
		return
	}
	start := time.Now()
	known := g.hub.isMember(c.uid, in.RoomID, g.opts.MemberTTL)
	var age time.Duration
	if conn := c.conn.Load(); conn != nil {
		age = conn.ReadAge()
	}
	release, err := g.gate.AcquireAged(admission.OpSend, age)
	if err != nil {
		c.send(protocol.EncodeError(protocol.AsError(err), in.ClientMsgID))
		return
	}
	ctx, cancel := g.opCtx()
	m, err := do(ctx, known)
	cancel()
	release()
	if err != nil {
		c.send(protocol.EncodeError(protocol.AsError(err), in.ClientMsgID))
		if e := protocol.AsError(err); e.Code == protocol.CodeInternal || e.Code == protocol.CodeUnavailable {
			lvl := zap.WarnLevel
			if outage(e.Cause) {
				lvl = zap.DebugLevel // logged once, when it began
			}
			g.log.Log(lvl, in.Type+" failed", zap.String("room", in.RoomID), zap.String("code", e.Code), zap.Error(e.Cause))
		}
		return
	}
	if !known {
		g.hub.setRoom(c.uid, in.RoomID, true) // verified by the store just now
	}
	c.send(protocol.EncodeAck(protocol.FromStore(m)))
	g.m.stored.Inc()
	g.m.publishLat.Observe(time.Since(start).Seconds())
}

// outage reports whether err is the effect of a known outage its detector
// logged once (app.ErrRedisDown: the node's Redis health check fails), so
// the failures it causes are not logged one per request.
func outage(err error) bool {
	var o interface{ Outage() bool }
	return errors.As(err, &o) && o.Outage()
}

func (g *Gateway) onSync(c *client, in *protocol.Inbound) {
	if !c.syncB.allow(g.opts.SyncRate, g.opts.SyncBurst) {
		c.send(protocol.EncodeError(protocol.RateLimited(time.Second), ""))
		return
	}
	ids := make([]string, 0, len(in.Rooms))
	for id := range in.Rooms {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	budget := g.opts.SyncBudget
	for _, id := range ids {
		after := in.Rooms[id]
		ctx, cancel := g.opCtx()
		err := g.checkMember(ctx, c.uid, id)
		if err != nil {
			cancel()
			c.send(protocol.EncodeRoomError(protocol.AsError(err), id))
			continue
		}
		if budget <= 0 {
			cancel()
			c.send(protocol.EncodeSynced(id, after, true))
			continue
		}
		release, err := g.gate.Acquire("sync")
		if err != nil {
			cancel()
			c.send(protocol.EncodeRoomError(protocol.AsError(err), id))
			continue
		}
		p, err := g.svc.AfterSettled(ctx, c.uid, id, after, min(budget, service.MaxPage), false)
		n := len(p.Messages)
		if err == nil {
			err = g.svc.Decorate(ctx, c.uid, id, &p, false)
		}
		cancel()
		release()
		if err != nil {
			c.send(protocol.EncodeRoomError(protocol.AsError(err), id))
			continue
		}
		for i := range p.Messages {
			c.send(protocol.EncodeMessage(p.Wire(i)))
		}
		budget -= n
		c.send(protocol.EncodeSynced(id, p.Last, p.HasMore))
	}
}

// onTyping relays a typing frame to the room's other members, never
// storing it. The (user, room) limiter comes first (in memory: a flood
// within the interval costs nothing more), then the connection's typing
// bucket, which bounds the frames that cost a membership check and a
// publish. Frames either refuses are dropped silently: typing is advisory,
// and the state expires on the receivers' side by itself (expires_ms). A
// room the user is not a member of answers an error frame.
func (g *Gateway) onTyping(c *client, in *protocol.Inbound) {
	on := *in.On
	if !g.typ.allow(c.uid, in.RoomID, on, time.Now()) || !c.typB.allow(g.opts.TypingRate, g.opts.TypingBurst) {
		g.m.typing.WithLabelValues("dropped").Inc()
		return
	}
	ctx, cancel := g.opCtx()
	defer cancel()
	if err := g.checkMember(ctx, c.uid, in.RoomID); err != nil {
		c.send(protocol.EncodeRoomError(protocol.AsError(err), in.RoomID))
		return
	}
	g.svc.PublishTyping(ctx, c.uid, in.RoomID, on, g.opts.TypingTTL)
	g.m.typing.WithLabelValues("relayed").Inc()
}

// checkMember uses the node's membership cache, then the store.
func (g *Gateway) checkMember(ctx context.Context, uid, roomID string) error {
	if g.hub.isMember(uid, roomID, g.opts.MemberTTL) {
		return nil
	}
	if err := g.svc.CheckMember(ctx, uid, roomID); err != nil {
		return err
	}
	g.hub.setRoom(uid, roomID, true)
	return nil
}

// HandleMessage implements bus.Handler: a room message or a user event.
func (g *Gateway) HandleMessage(channel string, payload []byte) {
	kind, id := bus.Parse(channel)
	env, err := protocol.ParseEnvelope(payload)
	if kind == 0 || err != nil || (kind == 's') != (env.Kind == 'u') {
		g.log.Warn("bad bus payload", zap.String("channel", channel))
		return
	}
	if kind == 's' {
		// A user shard carries the events of every user hashed to it:
		// most are for users connected elsewhere.
		if !g.hub.online(env.UserID) {
			return
		}
		kind, id = 'u', env.UserID
	}
	// One copy, shared by every recipient's write queue.
	frame := append([]byte(nil), env.Frame...)
	switch kind {
	case 'r':
		r := g.hub.room(id)
		if r == nil {
			return
		}
		switch env.Kind {
		case 'm':
			g.m.deliveries.Add(float64(g.hub.deliver(r, env.Seq, frame)))
			if env.Published > 0 {
				g.m.deliverLat.Observe(max(0, time.Since(time.UnixMicro(env.Published)).Seconds()))
			}
		case 'h':
			g.m.deliveries.Add(float64(g.hub.deliver(r, env.Seq, nil)))
		default:
			if ev, from, ok := strings.Cut(env.Event, " "); ok && ev == protocol.EventTyping {
				g.hub.toRoomExcept(r, from, frame)
				return
			}
			g.hub.toRoom(r, frame)
		}
	case 'u':
		switch env.Event {
		case protocol.EventSessionRevoked:
			g.closeRevoked(id, frame)
			return
		case protocol.EventFriendAdded, protocol.EventGroupJoined:
			g.hub.setRoom(id, env.RoomID, true)
		case protocol.EventFriendRemoved, protocol.EventGroupLeft:
			g.hub.setRoom(id, env.RoomID, false)
		case protocol.EventRoomClosed:
			// Internal (a block): never forwarded, it must not show.
			g.hub.setRoom(id, env.RoomID, false)
			return
		case protocol.EventRoomOpened:
			g.hub.setRoom(id, env.RoomID, true)
			return
		}
		g.hub.toUser(id, frame)
	}
}

// HandleResubscribed implements bus.Handler: the bus reconnected, so
// messages may have been missed. Subscriptions are made again, memberships
// reloaded, and every room's delivery order reset; clients are told to
// sync (through a reconnect-free path: an event they treat as "sync now").
func (g *Gateway) HandleResubscribed() {
	g.m.busResub.Inc()
	g.log.Warn("bus reconnected: resubscribing and asking clients to sync")
	g.hub.resubscribeAll()
	go g.reloadMemberships()
	frame := protocol.EncodeEvent(EventResync, map[string]string{"reason": ResyncBusReconnected})
	g.ws.Range(func(conn *wsnet.Conn) bool {
		if c, ok := conn.Data().(*client); ok {
			c.send(frame)
		}
		return true
	})
}

// HandleResubscribedChannels implements bus.ChannelsResubscriber: one of
// the bus's connections (a Redis Cluster slot's) was lost and subscribed
// again, so only channels may have missed messages. Each affected room's
// local members get a per-room `resync` (reason "bus reconnected"); an
// affected user channel (its events: rooms joined or left...) gets that
// user's connections a node-wide `resync` and the user's memberships are
// reloaded. Clients of other slots' rooms hear nothing.
func (g *Gateway) HandleResubscribedChannels(channels []string) {
	g.m.busResub.Inc()
	rooms, users := g.hub.resubscribeChannels(channels)
	g.log.Warn("bus connection of a shard reconnected: asking the affected rooms' clients to sync",
		zap.Int("channels", len(channels)), zap.Int("rooms", len(rooms)), zap.Int("users", len(users)))
	for _, r := range rooms {
		g.hub.toRoom(r, protocol.EncodeEvent(EventResync, map[string]string{"room_id": r.id, "reason": ResyncBusReconnected}))
	}
	if len(users) == 0 {
		return
	}
	frame := protocol.EncodeEvent(EventResync, map[string]string{"reason": ResyncBusReconnected})
	for _, uid := range users {
		g.hub.toUser(uid, frame)
	}
	go g.reloadMembershipsOf(users)
}

var _ bus.ChannelsResubscriber = (*Gateway)(nil)

// ResyncBusReconnected is the reason of a `resync` sent because the bus
// (or one shard's connection of it) reconnected.
const ResyncBusReconnected = "bus reconnected"

func (g *Gateway) reloadMemberships() { g.reloadMembershipsOf(g.hub.userIDs()) }

// reloadMembershipsOf reloads which rooms the users are in.
func (g *Gateway) reloadMembershipsOf(uids []string) {
	for _, uid := range uids {
		ctx, cancel := g.opCtx()
		rooms, err := g.svc.RoomsOf(ctx, uid)
		cancel()
		if err != nil {
			g.log.Warn("reload memberships", zap.Error(err))
			return
		}
		g.hub.resetRooms(uid, rooms)
	}
}

// fill reads a delivery gap of room r from the store.
func (g *Gateway) fill(r *room) {
	if r.dead.Load() {
		return
	}
	r.ordMu.Lock()
	after := r.last
	r.ordMu.Unlock()
	release, err := g.gate.Acquire("fill")
	var p service.Page
	if err == nil {
		ctx, cancel := g.opCtx()
		p, err = g.svc.After(ctx, "", r.id, after, service.MaxPage, false)
		cancel()
		release()
	}
	if err != nil {
		g.log.Warn("gap fill", zap.String("room", r.id), zap.Error(err))
		g.hub.fillFailed(r)
		return
	}
	frames := make([]seqFrame, len(p.Messages))
	for i := range p.Messages {
		frames[i] = seqFrame{p.Messages[i].Seq, protocol.EncodeMessage(protocol.FromStore(&p.Messages[i]))}
	}
	g.hub.filled(r, frames, p.Last, p.HasMore && !p.Pending)
}

// expiryLoop closes connections whose token expired without a refresh.
func (g *Gateway) expiryLoop(ctx context.Context) {
	t := time.NewTicker(g.opts.ExpiryCheck)
	defer t.Stop()
	frame := protocol.EncodeError(protocol.Errorf(protocol.CodeUnauthenticated, "token expired"), "")
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := now.UnixNano()
			g.ws.Range(func(conn *wsnet.Conn) bool {
				if c, ok := conn.Data().(*client); ok && c.exp.Load() < n {
					conn.Send(frame)
					conn.Close(ws.StatusPolicyViolation, "token expired")
				}
				return true
			})
		}
	}
}

// Drain stops accepting connections, tells every client to reconnect
// elsewhere, and waits (bounded by ctx) for them to go.
func (g *Gateway) Drain(ctx context.Context) {
	g.draining.Store(true)
	frame := protocol.EncodeReconnect("server shutting down")
	g.ws.Range(func(conn *wsnet.Conn) bool {
		conn.Send(frame)
		conn.Close(ws.StatusGoingAway, "server shutting down")
		return true
	})
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for g.ws.Len() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close ends every connection and the background work.
func (g *Gateway) Close() error {
	if g.stop != nil {
		g.stop()
	}
	err := g.ws.Close()
	g.wg.Wait()
	return err
}
