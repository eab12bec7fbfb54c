package redisbus

import (
	"context"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/bustest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newBus(t *testing.T, c redis.UniversalClient, h bus.Handler, opts Options) *Bus {
	t.Helper()
	b, err := New(c, h, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), bustest.Wait)
	t.Cleanup(cancel)
	return c
}

// TestConformance runs every node on its own client, like separate
// processes sharing one Redis.
func TestConformance(t *testing.T) {
	url := testenv.RedisURL(t)
	bustest.Run(t, func(t *testing.T) func(bus.Handler) bus.Bus {
		return func(h bus.Handler) bus.Bus { return newBus(t, newClient(t, url), h, Options{}) }
	})
}

// The same suite with publishes through go-redis automatic pipelining, as
// the services wire it by default (IM_REDIS_AUTOPIPELINE).
func TestConformanceAutoPipelinedPublish(t *testing.T) {
	url := testenv.RedisURL(t)
	bustest.Run(t, func(t *testing.T) func(bus.Handler) bus.Bus {
		return func(h bus.Handler) bus.Bus {
			ap, err := newClient(t, url).AutoPipeline()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = ap.Close() })
			return newBus(t, newClient(t, url), h, Options{Publisher: ap})
		}
	})
}

func TestNewNilClient(t *testing.T) {
	if _, err := New(nil, nil, Options{}); err == nil {
		t.Fatal("New(nil client) succeeded")
	}
}

// TestSubscribeWaitsForConfirmation publishes right after each Subscribe
// returns: nothing may be missed.
func TestSubscribeWaitsForConfirmation(t *testing.T) {
	url := testenv.RedisURL(t)
	r := bustest.NewRecorder()
	a, b := newBus(t, newClient(t, url), nil, Options{}), newBus(t, newClient(t, url), r, Options{})
	prefix := testenv.UniqueName("confirm")
	for i := 0; i < 20; i++ {
		c := bus.RoomChannel(prefix + strconv.Itoa(i))
		if err := b.Subscribe(ctx(t), c); err != nil {
			t.Fatal(err)
		}
		if err := a.Publish(ctx(t), c, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if !r.WaitUntil(bustest.Wait, func(m []bustest.Msg, _ int) bool { return len(m) == 20 }) {
		t.Fatalf("got %d of 20", len(r.Messages()))
	}
}

// waitResubscribed waits until r saw n reconnects.
func waitResubscribed(t *testing.T, r *bustest.Recorder, n int) {
	t.Helper()
	if !r.WaitUntil(bustest.Wait, func(_ []bustest.Msg, k int) bool { return k >= n }) {
		t.Fatalf("HandleResubscribed called %d times, want %d", r.Resubscribed(), n)
	}
}

// publishUntil publishes payload until r got it: messages sent while a
// node is still reconnecting may be lost, by contract.
func publishUntil(t *testing.T, pub *Bus, r *bustest.Recorder, channel, payload string) {
	t.Helper()
	deadline := time.Now().Add(bustest.Wait)
	for {
		_ = pub.Publish(ctx(t), channel, []byte(payload))
		if r.WaitUntil(200*time.Millisecond, func(m []bustest.Msg, _ int) bool {
			for _, x := range m {
				if x.Channel == channel && x.Payload == payload {
					return true
				}
			}
			return false
		}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q on %q never delivered", payload, channel)
		}
	}
}

func TestRedisRestart(t *testing.T) {
	srv := testenv.NewRedisServer(t)
	ra, rb := bustest.NewRecorder(), bustest.NewRecorder()
	var errs atomic.Int32
	a := newBus(t, newClient(t, srv.URL()), ra, Options{})
	b := newBus(t, newClient(t, srv.URL()), rb, Options{OnError: func(error) { errs.Add(1) }})
	ca, cb, late := bus.UserChannel("a"), bus.RoomChannel("r1"), bus.RoomChannel("late")
	if err := a.Subscribe(ctx(t), ca); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(ctx(t), cb); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(ctx(t), cb, []byte("before")); err != nil {
		t.Fatal(err)
	}
	rb.WaitFor(t, cb, "before")

	for round := 1; round <= 2; round++ {
		srv.Kill()
		if round == 1 {
			// Subscribing while Redis is down fails, but the channel is
			// kept and subscribed when the connection comes back.
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := b.Subscribe(sctx, late)
			cancel()
			if err == nil {
				t.Fatal("Subscribe with Redis down succeeded")
			}
			// Publishing while down fails fast with an error.
			pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = a.Publish(pctx, cb, []byte("lost"))
			cancel()
			if err == nil {
				t.Fatal("Publish with Redis down succeeded")
			}
		}
		rctx, cancel := context.WithTimeout(context.Background(), bustest.Wait)
		err := srv.Restart(rctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		waitResubscribed(t, rb, round)
		waitResubscribed(t, ra, round)
		publishUntil(t, a, rb, cb, "after"+strconv.Itoa(round))
		publishUntil(t, b, ra, ca, "after"+strconv.Itoa(round))
		if round == 1 {
			publishUntil(t, a, rb, late, "late")
		}
	}
	// Once per reconnect, not once per channel or per failed dial.
	time.Sleep(300 * time.Millisecond)
	if ra.Resubscribed() != 2 || rb.Resubscribed() != 2 {
		t.Fatalf("HandleResubscribed calls: A %d, B %d; want 2 each", ra.Resubscribed(), rb.Resubscribed())
	}
	if errs.Load() == 0 {
		t.Error("OnError was never called")
	}
	for _, r := range []*bustest.Recorder{ra, rb} {
		if r.Overlapped() {
			t.Error("Handler calls overlapped")
		}
	}
}

// eventLog records Handler calls in the order they happen.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) HandleMessage(_ string, p []byte) {
	l.mu.Lock()
	l.events = append(l.events, string(p))
	l.mu.Unlock()
}

func (l *eventLog) HandleResubscribed() {
	l.mu.Lock()
	l.events = append(l.events, "resub")
	l.mu.Unlock()
}

func (l *eventLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

// TestConnectionKilled kills the subscriber's Pub/Sub connection (CLIENT
// KILL) while messages flow: HandleResubscribed comes once, between the
// messages of the old and the new connection, and order is kept.
func TestConnectionKilled(t *testing.T) {
	url := testenv.RedisURL(t)
	admin := newClient(t, url)
	log := &eventLog{}
	b := newBus(t, newClient(t, url), log, Options{})
	pub := newBus(t, newClient(t, url), nil, Options{})
	ch := bus.RoomChannel(testenv.UniqueName("kill"))
	if err := b.Subscribe(ctx(t), ch); err != nil {
		t.Fatal(err)
	}
	reconnectKeepsOrder(t, log, pub, ch, func() (int64, error) {
		return admin.ClientKillByFilter(ctx(t), "TYPE", "pubsub").Result()
	})
}

// reconnectKeepsOrder publishes to ch through pub (1 ms apart) while kill
// drops the subscriber's Pub/Sub connection (it returns how many it
// killed), and checks that the subscriber's log has exactly one
// HandleResubscribed and the messages in order around it.
func reconnectKeepsOrder(t *testing.T, log *eventLog, pub *Bus, ch string, kill func() (int64, error)) {
	t.Helper()
	var (
		stop = make(chan struct{})
		done = make(chan struct{})
		sent atomic.Int64
	)
	go func() {
		defer close(done)
		for i := 0; i < 100000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if pub.Publish(context.Background(), ch, []byte(strconv.Itoa(i))) == nil {
				sent.Store(int64(i))
			}
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stop); <-done }()

	waitEvents := func(cond func([]string) bool, what string) {
		t.Helper()
		deadline := time.Now().Add(bustest.Wait)
		for !cond(log.snapshot()) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitEvents(func(e []string) bool { return len(e) >= 20 }, "messages before the kill")
	if n, err := kill(); err != nil || n == 0 {
		t.Fatalf("CLIENT KILL TYPE pubsub: %d, %v", n, err)
	}
	resubAt := func(e []string) int {
		for i, x := range e {
			if x == "resub" {
				return i
			}
		}
		return -1
	}
	waitEvents(func(e []string) bool { i := resubAt(e); return i >= 0 && len(e) >= i+20 }, "messages after the reconnect")
	ev := log.snapshot()
	last := -1
	resubs := 0
	for _, x := range ev {
		if x == "resub" {
			resubs++
			continue
		}
		v, err := strconv.Atoi(x)
		if err != nil || v <= last {
			t.Fatalf("message %q after %d: order not kept (%v)", x, last, ev)
		}
		last = v
	}
	if resubs != 1 {
		t.Fatalf("%d HandleResubscribed calls, want 1", resubs)
	}
	t.Logf("%d events; resubscribed after %d messages; %d published", len(ev), resubAt(ev), sent.Load()+1)
}

// blackhole forwards TCP connections to a target until Freeze, after which
// the connections open at that moment silently drop everything (a network
// partition: no error, no data). Later connections work.
type blackhole struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  []*holeConn
	closed bool
}

type holeConn struct {
	client, server net.Conn
	frozen         atomic.Bool
}

func newBlackhole(t *testing.T, target string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blackhole{ln: ln, target: target}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *blackhole) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		hc := &holeConn{client: c, server: s}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			_ = c.Close()
			_ = s.Close()
			return
		}
		p.conns = append(p.conns, hc)
		p.mu.Unlock()
		go hc.pipe(c, s)
		go hc.pipe(s, c)
	}
}

func (hc *holeConn) pipe(src, dst net.Conn) {
	defer hc.client.Close()
	defer hc.server.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !hc.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or closed: the deferred Closes end both sides
		}
	}
}

func (p *blackhole) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.frozen.Store(true)
	}
}

func (p *blackhole) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.conns {
		_ = c.client.Close()
		_ = c.server.Close()
	}
}

// TestHalfOpenConnection: the Pub/Sub connection silently stops carrying
// data. The health check notices the unanswered PING and replaces it.
func TestHalfOpenConnection(t *testing.T) {
	url := testenv.RedisURL(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	hole := newBlackhole(t, opt.Addr)
	opt.Addr = hole.ln.Addr().String()
	sub := redis.NewClient(opt)
	t.Cleanup(func() { _ = sub.Close() })

	r := bustest.NewRecorder()
	var errs atomic.Int32
	b := newBus(t, sub, r, Options{HealthCheckInterval: 200 * time.Millisecond, OnError: func(error) { errs.Add(1) }})
	pub := newBus(t, newClient(t, url), nil, Options{})
	ch := bus.RoomChannel(testenv.UniqueName("hole"))
	if err := b.Subscribe(ctx(t), ch); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx(t), ch, []byte("before")); err != nil {
		t.Fatal(err)
	}
	r.WaitFor(t, ch, "before")
	// Idle pings are answered: no reconnect while the connection is fine.
	time.Sleep(time.Second)
	if n := r.Resubscribed(); n != 0 {
		t.Fatalf("HandleResubscribed called %d times on a healthy connection", n)
	}
	hole.freeze()
	waitResubscribed(t, r, 1)
	publishUntil(t, pub, r, ch, "after")
	if errs.Load() == 0 {
		t.Error("OnError not called for the dead connection")
	}
}

func TestSlowHandlerDrops(t *testing.T) {
	url := testenv.RedisURL(t)
	entered, release := make(chan struct{}, 1), make(chan struct{})
	r := bustest.NewRecorder()
	h := handlerFunc(func(c string, p []byte) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		r.HandleMessage(c, p)
	})
	b := newBus(t, newClient(t, url), h, Options{QueueSize: 2})
	pub := newBus(t, newClient(t, url), nil, Options{})
	ch := bus.RoomChannel(testenv.UniqueName("slow"))
	if err := b.Subscribe(ctx(t), ch); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx(t), ch, []byte("0")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(bustest.Wait):
		t.Fatal("handler never called")
	}
	for i := 1; i < 10; i++ {
		if err := pub.Publish(ctx(t), ch, []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(bustest.Wait)
	for b.Dropped() != 7 {
		if time.Now().After(deadline) {
			t.Fatalf("Dropped() = %d, want 7", b.Dropped())
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if !r.WaitUntil(bustest.Wait, func(m []bustest.Msg, _ int) bool { return len(m) == 3 }) {
		t.Fatalf("got %v, want 0, 1, 2", r.Messages())
	}
}

type handlerFunc func(string, []byte)

func (f handlerFunc) HandleMessage(c string, p []byte) { f(c, p) }
func (f handlerFunc) HandleResubscribed()              {}

// TestHandlerMaySubscribe: a Handler subscribing from inside HandleMessage
// (a gateway joining a room on a user event) must not deadlock.
func TestHandlerMaySubscribe(t *testing.T) {
	url := testenv.RedisURL(t)
	r := bustest.NewRecorder()
	room := bus.RoomChannel(testenv.UniqueName("room"))
	user := bus.UserChannel(testenv.UniqueName("user"))
	var b *Bus
	h := handlerFunc(func(c string, p []byte) {
		if c == user {
			sctx, cancel := context.WithTimeout(context.Background(), bustest.Wait)
			defer cancel()
			if err := b.Subscribe(sctx, room); err != nil {
				t.Error(err)
			}
		}
		r.HandleMessage(c, p)
	})
	b = newBus(t, newClient(t, url), h, Options{})
	pub := newBus(t, newClient(t, url), nil, Options{})
	if err := b.Subscribe(ctx(t), user); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx(t), user, []byte("joined")); err != nil {
		t.Fatal(err)
	}
	r.WaitFor(t, user, "joined")
	if err := pub.Publish(ctx(t), room, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	r.WaitFor(t, room, "hi")
}

// TestUndetectedReconnect drives the reader's detection of a new
// connection from subscription confirmations alone.
func TestUndetectedReconnect(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := &Bus{ctx: ctx, queue: make(chan item, 8), subs: map[string]*subscription{}}
	l := &lane{subs: map[string]*subscription{}, retired: make(chan struct{})}
	add := func(c string, id uint64) {
		s := &subscription{id: id, lane: l}
		b.subs[c], l.subs[c] = s, s
	}
	add("a", 1)
	add("b", 2)
	r := reader{l: l}
	sub := func(c string, n int) {
		b.confirmed(&r, &redis.Subscription{Kind: "subscribe", Channel: c, Count: n})
		r.live = true
	}
	resubs := func() int {
		n := 0
		for len(b.queue) > 0 {
			if (<-b.queue).resubscribed {
				n++
			}
		}
		return n
	}
	sub("a", 1)
	sub("b", 2)
	if n := resubs(); n != 0 {
		t.Fatalf("first connection reported %d reconnects", n)
	}
	// A new connection confirms the same channels again, Count from 1.
	sub("b", 1)
	sub("a", 2)
	if n := resubs(); n != 1 {
		t.Fatalf("re-confirmation reported %d reconnects, want 1", n)
	}
	// A new channel on the same connection is no reconnect.
	add("c", 3)
	sub("c", 3)
	if n := resubs(); n != 0 {
		t.Fatalf("a new channel reported %d reconnects", n)
	}
	// Count 1 for a new channel while others are confirmed: new connection.
	add("d", 4)
	sub("d", 1)
	if n := resubs(); n != 1 {
		t.Fatalf("Count 1 with confirmed channels reported %d reconnects, want 1", n)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	url := testenv.RedisURL(t)
	before := runtime.NumGoroutine()
	for i := 0; i < 5; i++ {
		opt, err := redis.ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		c := redis.NewClient(opt)
		b, err := New(c, bustest.NewRecorder(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Subscribe(ctx(t), bus.RoomChannel(testenv.UniqueName("g"))); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		_ = c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPublishOnlyOpensNoPubSub: a bus that never subscribes holds no
// Pub/Sub connection; the first Subscribe opens exactly one.
func TestPublishOnlyOpensNoPubSub(t *testing.T) {
	srv := testenv.NewRedisServer(t)
	admin := newClient(t, srv.URL())
	pubsubConns := func() int {
		list, err := admin.ClientList(ctx(t)).Result()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, " flags=P ") {
				n++
			}
		}
		return n
	}
	b := newBus(t, newClient(t, srv.URL()), nil, Options{})
	if err := b.Publish(ctx(t), "c", []byte("x")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := pubsubConns(); n != 0 {
		t.Fatalf("%d Pub/Sub connections before any Subscribe, want 0", n)
	}
	if err := b.Subscribe(ctx(t), "c1", "c2"); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(ctx(t), "c3"); err != nil {
		t.Fatal(err)
	}
	if n := pubsubConns(); n != 1 {
		t.Fatalf("%d Pub/Sub connections after Subscribe, want 1", n)
	}
}

// TestResubscribedWithFullQueue: the reader must not block when the queue
// is full at a reconnect, and HandleResubscribed is still called once.
func TestResubscribedWithFullQueue(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	log := &eventLog{}
	b := &Bus{ctx: ctx, cancel: cancel, handler: log, queue: make(chan item, 1),
		subs: map[string]*subscription{"a": {id: 1}}, pending: map[*lane]struct{}{}}
	b.queue <- item{channel: "a", payload: []byte("1"), sub: 1}
	r := reader{lost: true}
	done := make(chan struct{})
	go func() { b.reconnected(&r); close(done) }()
	select {
	case <-done:
	case <-time.After(bustest.Wait):
		t.Fatal("reconnected blocked on a full queue")
	}
	b.wg.Add(1)
	go b.deliver()
	defer func() { cancel(); b.wg.Wait() }()
	wait := func(n int) []string {
		deadline := time.Now().Add(bustest.Wait)
		for len(log.snapshot()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("events %v, want %d", log.snapshot(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		return log.snapshot()
	}
	if ev := wait(2); ev[0] != "resub" || ev[1] != "1" {
		t.Fatalf("events %v, want resub then 1", ev)
	}
	// With room in the queue the call is queued like a message.
	r.lost = true
	b.received(&redis.Message{Channel: "a", Payload: "2"})
	wait(3)
	b.reconnected(&r)
	wait(4) // the queue holds one item
	b.received(&redis.Message{Channel: "a", Payload: "3"})
	if ev := wait(5); strings.Join(ev[2:], ",") != "2,resub,3" {
		t.Fatalf("events %v", ev)
	}
	time.Sleep(50 * time.Millisecond)
	if ev := log.snapshot(); len(ev) != 5 {
		t.Fatalf("extra calls: %v", ev)
	}
}
