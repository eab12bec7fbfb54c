package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/client"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

const wait = 20 * time.Second

// checkLeaks fails the test if a goroutine of package client outlives it.
// Call it before the clients are made: their Close (cleanups registered
// later) runs before the check. The servers of the test cluster run in
// this process too, with goroutines of their own that come and go, so the
// in-process tests look only for the client's goroutines; TestNoLeak
// (leak_test.go) runs goleak itself against a server in another process.
func checkLeaks(t *testing.T) {
	t.Cleanup(func() {
		var left []string
		for end := time.Now().Add(5 * time.Second); ; {
			left = clientGoroutines()
			if len(left) == 0 || time.Now().After(end) {
				break
			}
			runtime.Gosched()
			time.Sleep(10 * time.Millisecond) // bounded poll for goroutines to exit
		}
		if len(left) > 0 {
			t.Errorf("%d goroutines of the client outlived it:\n%s", len(left), strings.Join(left, "\n\n"))
		}
	})
}

// clientGoroutines returns the stacks of running goroutines that are in
// package client (not its tests).
func clientGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "im-websocket-go/pkg/client.") && !strings.Contains(g, "pkg/client_test.") {
			out = append(out, g)
		}
	}
	return out
}

// dial connects a client for u to urls; it is closed at the end of the test.
func dial(t *testing.T, u *apitest.User, urls []string, o client.Options) *client.Client {
	t.Helper()
	o.URLs, o.Token = urls, client.StaticToken(u.Token)
	if o.MinBackoff == 0 {
		o.MinBackoff, o.MaxBackoff = 50*time.Millisecond, 500*time.Millisecond
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := client.Dial(ctx, o)
	if err != nil {
		t.Fatalf("dial %s: %v", u.Account, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// next returns the next event of type T matching ok, skipping others.
func next[T client.Event](t *testing.T, c *client.Client, ok func(T) bool) T {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case ev, open := <-c.Events():
			if !open {
				t.Fatalf("events closed while waiting for %T", *new(T))
			}
			if e, is := ev.(T); is && (ok == nil || ok(e)) {
				return e
			}
		case <-timer.C:
			t.Fatalf("no %T in %s", *new(T), wait)
		}
	}
}

// messages reads n messages of room from c, skipping other events.
func messages(t *testing.T, c *client.Client, room string, n int) []client.Message {
	t.Helper()
	var out []client.Message
	for len(out) < n {
		e := next(t, c, func(e *client.MessageEvent) bool { return e.Message.RoomID == room })
		out = append(out, e.Message)
	}
	return out
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// sendN sends n messages from c and returns them as acked.
func sendN(t *testing.T, c *client.Client, room, prefix string, n int) []*client.Message {
	t.Helper()
	var out []*client.Message
	for i := 0; i < n; i++ {
		m, err := c.Send(ctxT(t), room, fmt.Sprintf("%s %d", prefix, i), client.SendOptions{})
		if err != nil {
			t.Fatalf("send %s %d: %v", prefix, i, err)
		}
		out = append(out, m)
	}
	return out
}

// sameMessages checks that got holds exactly want, in order, each once.
func sameMessages(t *testing.T, got []client.Message, want []*client.Message) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Seq != want[i].Seq {
			t.Fatalf("message %d: got %s#%d %q, want %s#%d %q", i, got[i].ID, got[i].Seq, got[i].Body,
				want[i].ID, want[i].Seq, want[i].Body)
		}
	}
}

// Two users on two nodes: a message sent by one reaches the other typed,
// with the acked id and seq; typing, read receipts, reactions and presence
// arrive as their own event types; refusals are *client.Error at once.
func TestSendReceiveTypedEvents(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	a, b := cl.Register("sa"), cl.Register("sb")
	room := cl.Befriend(a, b)
	checkLeaks(t)
	ca := dial(t, a, []string{cl.Nodes[0].URL}, client.Options{})
	cb := dial(t, b, []string{cl.Nodes[1].URL}, client.Options{Rooms: map[string]int64{room: 0}})
	if ca.UserID() != a.ID || cb.UserID() != b.ID {
		t.Fatalf("user ids %q %q, want %q %q", ca.UserID(), cb.UserID(), a.ID, b.ID)
	}
	p := next(t, ca, func(e *client.PresenceEvent) bool { return e.UserID == b.ID })
	if !p.Online {
		t.Fatalf("presence of b: %+v", p.Presence)
	}
	cl.Settle()

	m, err := ca.Send(ctxT(t), room, "hello b", client.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Seq < 1 || m.From != a.ID || m.Body != "hello b" || m.ClientMsgID == "" {
		t.Fatalf("acked message: %+v", m)
	}
	got := messages(t, cb, room, 1)
	sameMessages(t, got, []*client.Message{m})

	if err := cb.Typing(ctxT(t), room, true); err != nil {
		t.Fatal(err)
	}
	ty := next(t, ca, func(e *client.TypingEvent) bool { return e.RoomID == room })
	if ty.UserID != b.ID || !ty.On || ty.ExpiresMS <= 0 {
		t.Fatalf("typing: %+v", ty.Typing)
	}
	if err := cb.Read(ctxT(t), room, m.Seq); err != nil {
		t.Fatal(err)
	}
	rd := next(t, ca, func(e *client.ReadEvent) bool { return e.RoomID == room && e.UserID == b.ID })
	if rd.Seq != m.Seq {
		t.Fatalf("read receipt: %+v", rd)
	}
	re, err := cb.React(ctxT(t), room, m.Seq, "👍")
	if err != nil {
		t.Fatal(err)
	}
	ev := next(t, ca, func(e *client.MessageEvent) bool { return e.Message.Kind == "react" })
	if ev.Message.ID != re.ID || ev.Message.Target != m.Seq || ev.Message.Emoji != "👍" {
		t.Fatalf("reaction event: %+v, acked %+v", ev.Message, re)
	}
	ed, err := ca.Edit(ctxT(t), room, m.Seq, "hello b (edited)")
	if err != nil || ed.Kind != "edit" || ed.Target != m.Seq {
		t.Fatalf("edit: %+v %v", ed, err)
	}

	// Refusals come back at once, typed, and are not retried.
	var ce *client.Error
	if _, err := ca.Send(ctxT(t), room, strings.Repeat("x", protocol.MaxBodyRunes+1), client.SendOptions{}); !errors.As(err, &ce) || ce.Code != protocol.CodePayloadTooLarge {
		t.Fatalf("too long a body: %v", err)
	}
	c := cl.Register("sc")
	other := cl.Befriend(b, c)
	if _, err := ca.Send(ctxT(t), other, "not mine", client.SendOptions{}); !errors.As(err, &ce) || ce.Code != protocol.CodeForbidden {
		t.Fatalf("a room a is not in: %v", err)
	}
	if s := ca.Stats(); s.Resent != 0 || s.Connects != 1 {
		t.Fatalf("stats: %+v", s)
	}
}

// faultyStore fails or slows chosen inserts, once each: mode "drop"
// refuses the insert, "lose" stores it but loses the answer (both answer
// unavailable); hang delays the insert of a client_msg_id; delay slows
// every insert (a node that is behind).
type faultyStore struct {
	store.Store
	delay time.Duration
	mu    sync.Mutex
	mode  map[string]string
	hang  map[string]time.Duration
}

func (f *faultyStore) InsertMessage(ctx context.Context, m *store.Message) error {
	f.mu.Lock()
	mode, d := f.mode[m.ClientMsgID], f.delay+f.hang[m.ClientMsgID]
	delete(f.mode, m.ClientMsgID)
	delete(f.hang, m.ClientMsgID)
	f.mu.Unlock()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	switch mode {
	case "drop":
		return fmt.Errorf("injected failure: %w", store.ErrUnavailable)
	case "lose":
		if err := f.Store.InsertMessage(ctx, m); err != nil {
			return err
		}
		return fmt.Errorf("injected lost answer: %w", store.ErrUnavailable)
	}
	return f.Store.InsertMessage(ctx, m)
}

// Send retries an unavailable answer with the same client_msg_id: a failed
// insert is stored by the retry, an insert whose answer was lost is acked
// by it; each message is stored once, and a repeated id returns the same
// message.
func TestSendRetriesIdempotently(t *testing.T) {
	cl := apitest.NewCluster(t, 0, apitest.Options{})
	fs := &faultyStore{mode: map[string]string{"idem-drop": "drop", "idem-lose": "lose"}}
	node := cl.StartNodeWith(apitest.NodeSetup{Store: func(s store.Store) store.Store { fs.Store = s; return fs }})
	a, b := cl.Register("ia"), cl.Register("ib")
	room := cl.Befriend(a, b)
	checkLeaks(t)
	var retryMu sync.Mutex
	retried := map[string][]string{} // client_msg_id -> codes
	ca := dial(t, a, []string{node.URL}, client.Options{Logger: testLogger(t), OnRetry: func(id string, err error) {
		retryMu.Lock()
		defer retryMu.Unlock()
		var e *client.Error
		if errors.As(err, &e) {
			retried[id] = append(retried[id], e.Code)
		} else {
			retried[id] = append(retried[id], err.Error())
		}
	}})

	var acked []*client.Message
	for _, id := range []string{"idem-drop", "idem-lose", "idem-plain"} {
		m, err := ca.Send(ctxT(t), room, "body of "+id, client.SendOptions{ClientMsgID: id})
		if err != nil {
			t.Fatalf("send %s: %v", id, err)
		}
		if m.ClientMsgID != id {
			t.Fatalf("ack of %s: %+v", id, m)
		}
		acked = append(acked, m)
	}
	// The failed insert was answered unavailable and resent; the lost
	// answer may be repaired by the server itself (its tombstone is
	// refused, so it acks), or answered unavailable and resent.
	if s := ca.Stats(); s.Resent < 1 {
		t.Fatalf("want a resend, stats %+v", s)
	}
	retryMu.Lock()
	if got := fmt.Sprint(retried["idem-drop"]); got != "[unavailable]" {
		t.Errorf("retries of idem-drop: %s, want [unavailable]", got)
	}
	if len(retried["idem-plain"]) != 0 {
		t.Errorf("idem-plain was retried: %v", retried["idem-plain"])
	}
	retryMu.Unlock()
	again, err := ca.Send(ctxT(t), room, "body of idem-lose", client.SendOptions{ClientMsgID: "idem-lose"})
	if err != nil || again.ID != acked[1].ID || again.Seq != acked[1].Seq {
		t.Fatalf("repeat of idem-lose: %+v %v, first %+v", again, err, acked[1])
	}
	// The store holds each once.
	var h struct{ Messages []protocol.Message }
	r := cl.Do("GET", "/v1/rooms/"+room+"/messages?limit=100", b.Token, nil)
	if r.Status != 200 {
		t.Fatalf("history: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &h)
	count := map[string]int{}
	for _, m := range h.Messages {
		count[m.ClientMsgID]++
	}
	for _, m := range acked {
		if count[m.ClientMsgID] != 1 {
			t.Fatalf("%s stored %d times (history %v)", m.ClientMsgID, count[m.ClientMsgID], count)
		}
	}
}

// cutProxy forwards TCP to a gateway and can cut the path: it closes
// every connection and refuses new ones until restored (a network
// partition between a client and its node).
type cutProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]bool
	cut    bool
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, wsURL string) (*cutProxy, string) {
	host := strings.TrimPrefix(wsURL, "ws://")
	host = host[:strings.IndexByte(host, '/')]
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: host, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() { l.Close(); p.setCut(true); p.wg.Wait() })
	return p, "ws://" + l.Addr().String() + "/ws"
}

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.wg.Add(1)
		p.conns[c] = true
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *cutProxy) pipe(c net.Conn) {
	defer p.wg.Done()
	u, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[u] = true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
	c.Close()
	u.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

// A client whose network path is cut reconnects by itself when it comes
// back and syncs: the messages sent meanwhile arrive in order, once, then
// live ones; a send made while cut waits for the reconnect and is stored
// once.
func TestReconnectSyncsMissedMessages(t *testing.T) {
	cl := apitest.NewCluster(t, 2, apitest.Options{})
	a, b := cl.Register("ra"), cl.Register("rb")
	room := cl.Befriend(a, b)
	proxy, viaProxy := newCutProxy(t, cl.Nodes[1].URL)
	checkLeaks(t)
	ca := dial(t, a, []string{cl.Nodes[0].URL}, client.Options{})
	cb := dial(t, b, []string{viaProxy}, client.Options{Rooms: map[string]int64{room: 0}})
	cl.Settle()

	first := sendN(t, ca, room, "before", 5)
	sameMessages(t, messages(t, cb, room, 5), first)

	proxy.setCut(true)
	next[*client.DisconnectedEvent](t, cb, nil)
	missed := sendN(t, ca, room, "while cut", 10)
	// b sends while cut: Send waits for the connection.
	type res struct {
		m   *client.Message
		err error
	}
	bs := make(chan res, 1)
	go func() {
		m, err := cb.Send(ctxT(t), room, "from b while cut", client.SendOptions{})
		bs <- res{m, err}
	}()
	proxy.setCut(false)
	next[*client.ConnectedEvent](t, cb, nil)
	r := <-bs
	if r.err != nil {
		t.Fatalf("b's send across the cut: %v", r.err)
	}
	// The missed messages and b's own, in seq order, each once.
	want := append(missed, r.m)
	got := messages(t, cb, room, len(want))
	sameMessages(t, got, want)
	if err := cb.WaitSynced(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cl.Settle()
	live := sendN(t, ca, room, "after", 5)
	sameMessages(t, messages(t, cb, room, 5), live)

	// A reconnect asked by the program: the sync it makes delivers nothing
	// again, and the next messages come once.
	cb.Reconnect()
	next[*client.ConnectedEvent](t, cb, nil)
	if err := cb.WaitSynced(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cl.Settle()
	live2 := sendN(t, ca, room, "after reconnect", 2)
	sameMessages(t, messages(t, cb, room, 2), live2)
	live = append(live, live2...)
	if cur := cb.Cursors()[room]; cur != live[len(live)-1].Seq {
		t.Fatalf("cursor %d, want %d", cur, live[len(live)-1].Seq)
	}
	if s := cb.Stats(); s.Connects < 3 || s.Delivered != 23 {
		t.Fatalf("stats: %+v", s)
	}
}

// When the node a client is on drains (a deploy), the client moves to
// another node of its list and syncs; messages sent meanwhile arrive once,
// in order. A new client started from the cursors of a closed one gets
// exactly what it missed.
func TestNodeDrainAndRestartFromCursors(t *testing.T) {
	cl := apitest.NewCluster(t, 3, apitest.Options{})
	a, b := cl.Register("da"), cl.Register("db")
	room := cl.Befriend(a, b)
	checkLeaks(t)
	ca := dial(t, a, []string{cl.Nodes[2].URL}, client.Options{})
	cb := dial(t, b, []string{cl.Nodes[0].URL, cl.Nodes[1].URL}, client.Options{Rooms: map[string]int64{room: 0}})
	cl.Settle()
	first := sendN(t, ca, room, "one", 3)
	sameMessages(t, messages(t, cb, room, 3), first)

	on := cl.Nodes[0]
	if on.GW.Len() == 0 {
		on = cl.Nodes[1]
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	on.GW.Drain(ctx)
	cancel()
	second := sendN(t, ca, room, "two", 4)
	c := next[*client.ConnectedEvent](t, cb, nil)
	if c.UserID != b.ID {
		t.Fatalf("connected: %+v", c)
	}
	sameMessages(t, messages(t, cb, room, 4), second)

	cursors := cb.Cursors()
	if cursors[room] != second[3].Seq {
		t.Fatalf("cursor %d, want %d", cursors[room], second[3].Seq)
	}
	_ = cb.Close()
	if _, open := <-drain(cb.Events()); open {
		t.Fatal("events not closed after Close")
	}
	third := sendN(t, ca, room, "three", 6)
	cb2 := dial(t, b, []string{cl.Nodes[0].URL, cl.Nodes[1].URL}, client.Options{Rooms: cursors})
	sameMessages(t, messages(t, cb2, room, 6), third)
	if err := cb2.WaitSynced(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if s := cb2.Stats(); s.Delivered != 6 {
		t.Fatalf("the restarted client delivered %d messages, want 6", s.Delivered)
	}
}

// drain reads ch until it is closed and returns a closed channel state.
func drain(ch <-chan client.Event) <-chan client.Event {
	for range ch {
	}
	return ch
}

// A consumer that does not read for a while loses nothing: the messages
// that did not fit in Events are held back and synced again once it reads.
func TestSlowConsumerLosesNothing(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	a, b := cl.Register("wa"), cl.Register("wb")
	room := cl.Befriend(a, b)
	checkLeaks(t)
	ca := dial(t, a, []string{cl.Nodes[0].URL}, client.Options{})
	cb := dial(t, b, []string{cl.Nodes[0].URL}, client.Options{EventBuffer: 4, Rooms: map[string]int64{room: 0}})
	cl.Settle()
	sent := sendN(t, ca, room, "burst", 30)
	sameMessages(t, messages(t, cb, room, 30), sent)
	if s := cb.Stats(); s.HeldBack == 0 || s.Delivered != 30 {
		t.Fatalf("want messages held back and all 30 delivered: %+v", s)
	}
}

// Close ends a send waiting for a connection that never comes, and a Dial
// that cannot connect gives up with its context; nothing is left running.
func TestCloseAndFailedDialStopEverything(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	a, b := cl.Register("ca"), cl.Register("cb")
	room := cl.Befriend(a, b)
	proxy, viaProxy := newCutProxy(t, cl.Nodes[0].URL)
	checkLeaks(t)

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	_, err := client.Dial(ctx, client.Options{URLs: []string{"ws://127.0.0.1:1/ws"}, Token: client.StaticToken(a.Token)})
	cancel()
	if err == nil {
		t.Fatal("dial of a closed port succeeded")
	}
	// A refused token: Dial says why.
	ctx, cancel = context.WithTimeout(context.Background(), time.Second)
	_, err = client.Dial(ctx, client.Options{URLs: []string{cl.Nodes[0].URL}, Token: client.StaticToken("not-a-token")})
	cancel()
	var se *client.StatusError
	if !errors.As(err, &se) && !strings.Contains(fmt.Sprint(err), "HTTP 401") {
		t.Fatalf("dial with a bad token: %v", err)
	}
	ca := dial(t, a, []string{viaProxy}, client.Options{})
	proxy.setCut(true)
	next[*client.DisconnectedEvent](t, ca, nil)
	errc := make(chan error, 1)
	go func() {
		_, err := ca.Send(context.Background(), room, "never", client.SendOptions{})
		errc <- err
	}()
	_ = ca.Close()
	if err := <-errc; !errors.Is(err, client.ErrClosed) {
		t.Fatalf("send after Close: %v", err)
	}
	if _, err := ca.Send(context.Background(), room, "after", client.SendOptions{}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("send on a closed client: %v", err)
	}
}

// testLogger logs the client's lines to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
