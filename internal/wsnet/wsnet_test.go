package wsnet

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/gobwas/ws"
)

func TestEchoRoundTrip(t *testing.T) {
	h := newTestHandler()
	s, url := startServer(t, h, Options{})
	c := dial(t, url)
	c.sendText(`{"type":"ping"}`)
	if got := c.readText(); got != `{"type":"ping"}` {
		t.Fatalf(
			"echo = %q",
			got,
		)
	}
	c.sendText("") // empty messages are messages too
	if got := c.readText(); got != "" {
		t.Fatalf(
			"echo of empty = %q",
			got,
		)
	}
	if s.Len() != 1 {
		t.Fatalf(
			"Len = %d, want 1",
			s.Len(),
		)
	}
	// The writer counts a frame after its write returns, which may be
	// after the client has read it: wait (bounded) for the counters.
	st := s.Stats()
	for end := time.Now().Add(2 * time.Second); st.FramesOut < 2 && time.Now().Before(end); st = s.Stats() {
		time.Sleep(5 * time.Millisecond)
	}
	if st.Opened != 1 || st.MessagesIn != 2 || st.FramesOut != 2 || st.BytesIn == 0 || st.BytesOut == 0 {
		t.Fatalf(
			"stats = %+v",
			st,
		)
	}
}

func TestManyMessagesInOrder(t *testing.T) {
	const n = 2000
	got := make(chan *Conn, 1)
	h := newTestHandler()
	h.onMessage = func(c *Conn, p []byte) {
		if string(p) == "start" {
			got <- c
		}
	}
	_, url := startServer(t, h, Options{WriteQueue: n + 1})
	c := dial(t, url)
	c.sendText("start")
	sc := <-got
	// One message encoded once and sent many times, plus distinct ones.
	for i := range n {
		if !sc.Send([]byte(fmt.Sprintf("m%d", i))) {
			t.Fatalf(
				"Send %d failed",
				i,
			)
		}
	}
	for i := range n {
		if got, want := c.readText(), fmt.Sprintf("m%d", i); got != want {
			t.Fatalf(
				"message %d = %q, want %q",
				i, got, want,
			)
		}
	}
}

// TestClientMessagesInOrder pipelines many more requests than the write
// queue holds: reading pauses while the answers are written, so the client
// is slowed down rather than dropped as a slow consumer.
func TestClientMessagesInOrder(t *testing.T) {
	const n = 1000
	h := newTestHandler()
	s, url := startServer(t, h, Options{WriteQueue: 8})
	c := dial(t, url)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			if err := c.writeFrame(ws.OpText, true, []byte(fmt.Sprintf("c%d", i))); err != nil {
				return
			}
		}
	}()
	for i := range n {
		if got, want := c.readText(), fmt.Sprintf("c%d", i); got != want {
			t.Fatalf(
				"echo %d = %q, want %q",
				i, got, want,
			)
		}
	}
	<-done
	if st := s.Stats(); st.SlowConsumers != 0 || st.MessagesIn != n {
		t.Fatalf(
			"stats %+v",
			st,
		)
	}
}

func TestConcurrentConnections(t *testing.T) {
	const (
		conns = 200
		msgs  = 20
	)
	h := newTestHandler()
	s, url := startServer(t, h, Options{Workers: 8})
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, url)
			for j := range msgs {
				want := fmt.Sprintf("conn %d message %d", i, j)
				if err := c.writeFrame(ws.OpText, true, []byte(want)); err != nil {
					errs <- err
					return
				}
				h, p, err := c.readFrame(10 * time.Second)
				if err != nil {
					errs <- err
					return
				}
				if h.OpCode != ws.OpText || string(p) != want {
					errs <- fmt.Errorf("conn %d got %v %q, want %q", i, h.OpCode, p, want)
					return
				}
			}
			c.conn.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitFor(t, "all connections closed", 5*time.Second, func() bool { return s.Len() == 0 })
	st := s.Stats()
	if st.Opened != conns || st.Closed != conns || st.MessagesIn != conns*msgs {
		t.Fatalf(
			"stats = %+v",
			st,
		)
	}
	if v := h.violations.Load(); v != 0 {
		t.Fatalf(
			"%d concurrent OnMessage / repeated OnClose",
			v,
		)
	}
}

func TestPingPong(t *testing.T) {
	h := newTestHandler()
	_, url := startServer(t, h, Options{})
	c := dial(t, url)
	if err := c.writeFrame(ws.OpPing, true, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	hd, p, err := c.readFrame(5 * time.Second)
	if err != nil || hd.OpCode != ws.OpPong || string(p) != "abc" {
		t.Fatalf(
			"got %v %q %v, want pong \"abc\"",
			hd.OpCode, p, err,
		)
	}
	// An unsolicited pong is ignored.
	if err := c.writeFrame(ws.OpPong, true, nil); err != nil {
		t.Fatal(err)
	}
	c.sendText("after pong")
	if got := c.readText(); got != "after pong" {
		t.Fatalf(
			"echo = %q",
			got,
		)
	}
}

func TestCloseCodes(t *testing.T) {
	cases := []struct {
		name    string
		frames  [][]byte
		code    ws.StatusCode
		cause   error
		counter func(Stats) uint64
	}{
		{
			name:    "oversized frame",
			frames:  [][]byte{masked(ws.OpText, true, strings.Repeat("x", 2048))},
			code:    ws.StatusMessageTooBig,
			cause:   ErrMessageTooBig,
			counter: func(s Stats) uint64 { return s.Oversize },
		},
		{
			name: "oversized fragmented message",
			frames: [][]byte{
				masked(ws.OpText, false, strings.Repeat("x", 600)),
				masked(ws.OpContinuation, true, strings.Repeat("x", 600)),
			},
			code:    ws.StatusMessageTooBig,
			cause:   ErrMessageTooBig,
			counter: func(s Stats) uint64 { return s.Oversize },
		},
		{
			name:    "unmasked frame",
			frames:  [][]byte{unmasked(ws.OpText, true, "hello")},
			code:    ws.StatusProtocolError,
			cause:   ErrProtocol,
			counter: func(s Stats) uint64 { return s.ProtocolErrors },
		},
		{
			name:    "binary frame",
			frames:  [][]byte{masked(ws.OpBinary, true, "\x00\x01")},
			code:    ws.StatusUnsupportedData,
			cause:   ErrUnsupportedData,
			counter: func(s Stats) uint64 { return s.ProtocolErrors },
		},
		{
			name:    "invalid UTF-8",
			frames:  [][]byte{masked(ws.OpText, true, "ok \xff\xfe")},
			code:    ws.StatusInvalidFramePayloadData,
			cause:   ErrInvalidUTF8,
			counter: func(s Stats) uint64 { return s.ProtocolErrors },
		},
		{
			name:    "continuation without start",
			frames:  [][]byte{masked(ws.OpContinuation, true, "x")},
			code:    ws.StatusProtocolError,
			cause:   ErrProtocol,
			counter: func(s Stats) uint64 { return s.ProtocolErrors },
		},
		{
			name:    "reserved opcode",
			frames:  [][]byte{masked(ws.OpCode(0x3), true, "x")},
			code:    ws.StatusProtocolError,
			cause:   ErrProtocol,
			counter: func(s Stats) uint64 { return s.ProtocolErrors },
		},
		{
			name:    "fragmented ping",
			frames:  [][]byte{masked(ws.OpPing, false, "x")},
			code:    ws.StatusProtocolError,
			cause:   ErrProtocol,
			counter: func(s Stats) uint64 { return s.ProtocolErrors },
		},
		{
			name:    "close with invalid code",
			frames:  [][]byte{masked(ws.OpClose, true, "\x03\xe7")}, // 999
			code:    ws.StatusProtocolError,
			cause:   ErrProtocol,
			counter: func(s Stats) uint64 { return s.ProtocolErrors },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler()
			s, url := startServer(t, h, Options{MaxMessageSize: 1024})
			c := dial(t, url)
			go func() { // the server may stop reading half way
				for _, f := range tc.frames {
					if _, err := c.conn.Write(f); err != nil {
						return
					}
				}
			}()
			c.expectClose(tc.code, 5*time.Second)
			ev := h.waitClose(t, 5*time.Second)
			if !errors.Is(ev.err, tc.cause) {
				t.Fatalf(
					"OnClose error %v, want %v",
					ev.err, tc.cause,
				)
			}
			if tc.counter(s.Stats()) != 1 {
				t.Fatalf(
					"counter not incremented: %+v",
					s.Stats(),
				)
			}
			c.conn.Close()
			waitFor(t, "Len 0", 5*time.Second, func() bool { return s.Len() == 0 })
		})
	}
}

func TestFragmentedMessage(t *testing.T) {
	h := newTestHandler()
	_, url := startServer(t, h, Options{MaxMessageSize: 1024})
	c := dial(t, url)
	// A control frame may come between fragments.
	for _, f := range []struct {
		op  ws.OpCode
		fin bool
		p   string
	}{
		{ws.OpText, false, "hel"},
		{ws.OpPing, true, "between"},
		{ws.OpContinuation, false, "lo "},
		{ws.OpContinuation, false, ""},
		{ws.OpContinuation, true, "wörld"},
	} {
		if err := c.writeFrame(f.op, f.fin, []byte(f.p)); err != nil {
			t.Fatal(err)
		}
	}
	hd, p, err := c.readFrame(5 * time.Second)
	if err != nil || hd.OpCode != ws.OpPong || string(p) != "between" {
		t.Fatalf(
			"got %v %q %v, want the pong first",
			hd.OpCode, p, err,
		)
	}
	if got := c.readText(); got != "hello wörld" {
		t.Fatalf(
			"assembled = %q",
			got,
		)
	}
	// A multi-byte rune split across fragments is valid.
	ö := "ö"
	c.writeFrame(ws.OpText, false, []byte("a"+ö[:1]))
	c.writeFrame(ws.OpContinuation, true, []byte(ö[1:]+"b"))
	if got := c.readText(); got != "aöb" {
		t.Fatalf(
			"assembled = %q",
			got,
		)
	}
}

func TestClientClose(t *testing.T) {
	h := newTestHandler()
	s, url := startServer(t, h, Options{})
	c := dial(t, url)
	if err := c.writeFrame(ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusGoingAway, "bye")); err != nil {
		t.Fatal(err)
	}
	c.expectClose(ws.StatusGoingAway, 5*time.Second)
	ev := h.waitClose(t, 5*time.Second)
	var ce *CloseError
	if !errors.As(ev.err, &ce) || !ce.Remote || ce.Code != ws.StatusGoingAway || ce.Reason != "bye" {
		t.Fatalf(
			"OnClose error %v, want remote CloseError 1001 bye",
			ev.err,
		)
	}
	c.expectEOF(5 * time.Second)
	if s.Len() != 0 {
		t.Fatalf(
			"Len = %d",
			s.Len(),
		)
	}
}

func TestClientVanishes(t *testing.T) {
	h := newTestHandler()
	s, url := startServer(t, h, Options{})
	c := dial(t, url)
	c.sendText("x")
	c.readText()
	c.conn.Close()
	ev := h.waitClose(t, 5*time.Second)
	if !errors.Is(ev.err, io.EOF) {
		t.Fatalf(
			"OnClose error %v, want io.EOF",
			ev.err,
		)
	}
	waitFor(t, "Len 0", 5*time.Second, func() bool { return s.Len() == 0 })
}

func TestServerConnClose(t *testing.T) {
	h := newTestHandler()
	h.onMessage = func(c *Conn, p []byte) {
		c.Send([]byte("last words"))
		c.Close(ws.StatusPolicyViolation, string(p))
		if c.Send([]byte("too late")) {
			panic("Send after Close succeeded")
		}
	}
	_, url := startServer(t, h, Options{})
	c := dial(t, url)
	c.sendText("token expired")
	if got := c.readText(); got != "last words" {
		t.Fatalf(
			"got %q before the close frame",
			got,
		)
	}
	if reason := c.expectClose(ws.StatusPolicyViolation, 5*time.Second); reason != "token expired" {
		t.Fatalf(
			"reason %q",
			reason,
		)
	}
	ev := h.waitClose(t, 5*time.Second)
	var ce *CloseError
	if !errors.As(ev.err, &ce) || ce.Remote || ce.Code != ws.StatusPolicyViolation {
		t.Fatalf(
			"OnClose error %v",
			ev.err,
		)
	}
	c.expectEOF(5 * time.Second)
}

func TestSlowConsumer(t *testing.T) {
	got := make(chan *Conn, 1)
	h := newTestHandler()
	var first atomic.Bool
	h.onMessage = func(c *Conn, p []byte) {
		if first.CompareAndSwap(false, true) {
			got <- c
			return
		}
		c.Send(bytes.Clone(p))
	}
	s, url := startServer(t, h, Options{WriteQueue: 8, WriteTimeout: 300 * time.Millisecond})
	c := dial(t, url)
	c.sendText("hi")
	sc := <-got
	// The client never reads. The socket buffers fill, then the queue.
	msg := []byte(strings.Repeat("x", 64<<10))
	start := time.Now()
	failed := false
	for i := 0; i < 5000 && !failed; i++ {
		t0 := time.Now()
		failed = !sc.Send(msg)
		if d := time.Since(t0); d > 50*time.Millisecond {
			t.Fatalf(
				"Send blocked for %v",
				d,
			)
		}
		time.Sleep(200 * time.Microsecond)
	}
	if !failed {
		t.Fatalf(
			"Send never failed after %v",
			time.Since(start),
		)
	}
	if sc.Send(msg) {
		t.Fatal("Send succeeded after the overflow")
	}
	ev := h.waitClose(t, 5*time.Second)
	if !errors.Is(ev.err, ErrSlowConsumer) {
		t.Fatalf(
			"OnClose error %v, want ErrSlowConsumer",
			ev.err,
		)
	}
	if st := s.Stats(); st.SlowConsumers != 1 {
		t.Fatalf(
			"SlowConsumers = %d",
			st.SlowConsumers,
		)
	}
	// The server still serves others.
	c2 := dial(t, url)
	c2.sendText("still alive")
	if got := c2.readText(); got != "still alive" {
		t.Fatalf(
			"echo = %q",
			got,
		)
	}
}

func TestHalfFrameReadTimeout(t *testing.T) {
	h := newTestHandler()
	s, url := startServer(t, h, Options{Workers: 1, ReadTimeout: 300 * time.Millisecond})
	slow := dial(t, url)
	// Half a header, then silence: this holds the only worker.
	full := masked(ws.OpText, true, "never finished")
	if _, err := slow.conn.Write(full[:3]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	other := dial(t, url)
	other.sendText("served")
	if got := other.readText(); got != "served" {
		t.Fatalf(
			"echo = %q",
			got,
		)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf(
			"other client waited %v",
			d,
		)
	}
	ev := h.waitClose(t, 5*time.Second)
	if !errors.Is(ev.err, ErrReadTimeout) {
		t.Fatalf(
			"OnClose error %v, want ErrReadTimeout",
			ev.err,
		)
	}
	slow.expectEOF(5 * time.Second)
	if st := s.Stats(); st.ReadTimeouts != 1 {
		t.Fatalf(
			"ReadTimeouts = %d",
			st.ReadTimeouts,
		)
	}
	// An idle connection (no partial frame) is not subject to ReadTimeout.
	idle := dial(t, url)
	time.Sleep(700 * time.Millisecond)
	idle.sendText("still here")
	if got := idle.readText(); got != "still here" {
		t.Fatalf(
			"echo = %q",
			got,
		)
	}
}

func TestIdleTimeoutAndPing(t *testing.T) {
	h := newTestHandler()
	s, url := startServer(t, h, Options{IdleTimeout: 400 * time.Millisecond, PingInterval: 100 * time.Millisecond})
	quiet := dial(t, url)
	// The server pings a silent connection.
	hd, _, err := quiet.readFrame(2 * time.Second)
	if err != nil || hd.OpCode != ws.OpPing {
		t.Fatalf(
			"got %v %v, want a ping",
			hd.OpCode, err,
		)
	}
	// Not answering: closed with 1001 after the idle timeout.
	quiet.expectClose(ws.StatusGoingAway, 3*time.Second)
	ev := h.waitClose(t, 3*time.Second)
	if !errors.Is(ev.err, ErrIdleTimeout) {
		t.Fatalf(
			"OnClose error %v, want ErrIdleTimeout",
			ev.err,
		)
	}
	if st := s.Stats(); st.IdleTimeouts != 1 {
		t.Fatalf(
			"IdleTimeouts = %d",
			st.IdleTimeouts,
		)
	}

	// A client that answers pings stays open.
	live := dial(t, url)
	deadline := time.Now().Add(time.Second)
	pongs := 0
	for time.Now().Before(deadline) {
		hd, p, err := live.readFrame(time.Second)
		if err != nil {
			t.Fatalf(
				"live client: %v",
				err,
			)
		}
		if hd.OpCode == ws.OpPing {
			live.writeFrame(ws.OpPong, true, p)
			pongs++
		}
	}
	if pongs < 2 {
		t.Fatalf(
			"%d pings in 1s",
			pongs,
		)
	}
	live.sendText("alive")
	if got := live.readText(); got != "alive" {
		t.Fatalf(
			"echo = %q",
			got,
		)
	}
}

func TestServerCloseAll(t *testing.T) {
	const n = 20
	h := newTestHandler()
	s, url := startServer(t, h, Options{})
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dial(t, url)
	}
	waitFor(t, "all registered", 5*time.Second, func() bool { return s.Len() == n })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[*Conn]bool{}
	for range n {
		ev := h.waitClose(t, time.Second) // already delivered: Close waits for them
		if !errors.Is(ev.err, ErrServerClosed) {
			t.Fatalf(
				"OnClose error %v",
				ev.err,
			)
		}
		seen[ev.c] = true
	}
	if len(seen) != n || s.Len() != 0 || h.violations.Load() != 0 {
		t.Fatalf(
			"%d distinct OnClose, Len %d, violations %d",
			len(seen), s.Len(), h.violations.Load(),
		)
	}
	for _, c := range clients {
		c.expectEOF(5 * time.Second)
	}
	// A later upgrade is refused.
	resp, err := http.Get("http" + strings.TrimPrefix(url, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf(
			"status %d after Close",
			resp.StatusCode,
		)
	}
	if err := s.Close(); err != nil {
		t.Fatalf(
			"second Close: %v",
			err,
		)
	}
}

func TestRangeBroadcast(t *testing.T) {
	h := newTestHandler()
	s, url := startServer(t, h, Options{})
	clients := []*client{dial(t, url), dial(t, url), dial(t, url)}
	waitFor(t, "registered", 5*time.Second, func() bool { return s.Len() == 3 })
	msg := []byte(`{"type":"reconnect","reason":"shutdown"}`)
	count := 0
	s.Range(func(c *Conn) bool {
		count++
		c.Send(msg) // one slice, many connections
		c.Close(ws.StatusGoingAway, "shutdown")
		return true
	})
	if count != 3 {
		t.Fatalf(
			"Range visited %d",
			count,
		)
	}
	for _, c := range clients {
		if got := c.readText(); got != string(msg) {
			t.Fatalf(
				"got %q",
				got,
			)
		}
		c.expectClose(ws.StatusGoingAway, 5*time.Second)
	}
}

// TestHandshakeTrailingBytes sends the first frame in the same write as the
// HTTP request, so it sits in the hijacked buffer, not in the socket.
func TestHandshakeTrailingBytes(t *testing.T) {
	h := newTestHandler()
	_, url := startServer(t, h, Options{})
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	payload := append([]byte(req), masked(ws.OpText, true, "early")...)
	payload = append(payload, masked(ws.OpText, true, "bird")...)
	if _, err := conn.Write(payload); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf(
			"handshake: %v %v",
			resp, err,
		)
	}
	c := &client{t: t, conn: conn, r: br}
	for _, want := range []string{"early", "bird"} {
		if got := c.readText(); got != want {
			t.Fatalf(
				"got %q, want %q",
				got, want,
			)
		}
	}
}

func TestBadUpgrade(t *testing.T) {
	h := newTestHandler()
	s, url := startServer(t, h, Options{})
	resp, err := http.Get("http" + strings.TrimPrefix(url, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Fatalf(
			"plain GET got status %d",
			resp.StatusCode,
		)
	}
	// The answer is written before the counter moves.
	waitFor(t, "UpgradeErrors", 5*time.Second, func() bool { return s.Stats().UpgradeErrors == 1 })
	if st := s.Stats(); st.Opened != 0 {
		t.Fatalf(
			"stats %+v",
			st,
		)
	}
}

func TestIdleConnsHaveNoGoroutines(t *testing.T) {
	const n = 100
	h := newTestHandler()
	s, url := startServer(t, h, Options{})
	c0 := dial(t, url) // warm up the HTTP server's goroutines
	c0.sendText("x")
	c0.readText()
	time.Sleep(100 * time.Millisecond)
	base := runtime.NumGoroutine()
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = dial(t, url)
		clients[i].sendText("hello")
		clients[i].readText()
	}
	waitFor(t, "registered", 5*time.Second, func() bool { return s.Len() == n+1 })
	// Handler and writer goroutines end; idle connections own none.
	waitGoroutines(t, base+5, 5*time.Second)
}

func TestNoGoroutineLeak(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		h := newTestHandler()
		s, err := NewServer(h, Options{Workers: 4, IdleTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.Upgrade(w, r, &connState{})
		})}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		url := "ws://" + ln.Addr().String() + "/"
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := dial(t, url)
				c.sendText(fmt.Sprint(i))
				c.readText()
				if i%2 == 0 {
					c.writeFrame(ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
					c.expectClose(ws.StatusNormalClosure, 5*time.Second)
				}
				c.conn.Close()
			}()
		}
		wg.Wait()
		waitFor(t, "connections closed", 5*time.Second, func() bool { return s.Len() == 0 })
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		srv.Close()
	}()
	waitGoroutines(t, base, 5*time.Second)
}

func TestOptionsValidation(t *testing.T) {
	if _, err := NewServer(nil, Options{}); err == nil {
		t.Fatal("nil handler accepted")
	}
	if _, err := NewServer(newTestHandler(), Options{WriteQueue: -1}); err == nil {
		t.Fatal("negative WriteQueue accepted")
	}
	o, err := Options{}.withDefaults()
	if err != nil || o.Workers < 32 || o.MaxMessageSize != 64<<10 || o.WriteQueue != 256 || o.IdleTimeout != 90*time.Second {
		t.Fatalf(
			"defaults %+v %v",
			o, err,
		)
	}
}

func TestCloseBody(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes
	p := closeBody(ws.StatusGoingAway, long)
	if len(p) > ws.MaxControlFramePayloadSize {
		t.Fatalf(
			"close payload %d bytes",
			len(p),
		)
	}
	code, reason := ws.ParseCloseFrameData(p)
	if code != ws.StatusGoingAway || ws.CheckCloseFrameData(code, reason) != nil {
		t.Fatalf(
			"code %d reason %q",
			code, reason,
		)
	}
	if closeBody(ws.StatusNoStatusRcvd, "x") != nil {
		t.Fatal("1005 must not be sent")
	}
}

func TestFrameHeaderSizes(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536, 1 << 20} {
		b := appendFrameHeader(nil, ws.OpText, 0, n)
		h, err := ws.ReadHeader(strings.NewReader(string(b)))
		if err != nil || h.Length != int64(n) || !h.Fin || h.Masked || h.OpCode != ws.OpText {
			t.Fatalf(
				"n=%d: header %+v %v",
				n, h, err,
			)
		}
	}
}

// TestConnSize guards the per-connection footprint.
func TestConnSize(t *testing.T) {
	n := unsafe.Sizeof(Conn{})
	t.Logf("Conn is %d bytes", n)
	if n > 256 {
		t.Fatalf(
			"Conn is %d bytes",
			n,
		)
	}
}

// TestGarbageOverSocket sends malformed streams over real sockets: each
// connection ends, and the server keeps serving.
func TestGarbageOverSocket(t *testing.T) {
	inputs := [][]byte{
		{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4},
		{0x81, 0xfe, 0xff, 0xff, 1, 2, 3, 4, 5},
		{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		append(masked(ws.OpText, false, "a"), masked(ws.OpText, true, "b")...),
		append(masked(ws.OpPing, true, strings.Repeat("p", 125)), 0x89, 0xfe, 0, 200),
	}
	h := newTestHandler()
	s, url := startServer(t, h, Options{MaxMessageSize: 1024, ReadTimeout: 500 * time.Millisecond})
	for i, in := range inputs {
		c := dial(t, url)
		if _, err := c.conn.Write(in); err != nil {
			t.Fatal(err)
		}
		c.expectEOF(5 * time.Second)
		ev := h.waitClose(t, 5*time.Second)
		if ev.err == nil {
			t.Fatalf(
				"input %d: nil close cause",
				i,
			)
		}
	}
	c := dial(t, url)
	c.sendText("fine")
	if got := c.readText(); got != "fine" {
		t.Fatalf(
			"echo = %q",
			got,
		)
	}
	waitFor(t, "Len 1", 5*time.Second, func() bool { return s.Len() == 1 })
}

// ReadAge counts the time a message waited for a worker: with one worker
// held by a first connection's message, a second connection's message is
// read late, and its age says how late.
func TestReadAgeCountsTheWaitForAWorker(t *testing.T) {
	h := newTestHandler()
	hold := make(chan struct{})
	ages := make(chan time.Duration, 2)
	h.onMessage = func(c *Conn, p []byte) {
		ages <- c.ReadAge()
		if string(p) == "first" {
			<-hold
		}
	}
	_, url := startServer(t, h, Options{Workers: 1})
	a, b := dial(t, url), dial(t, url)
	a.sendText("first")
	if age := <-ages; age > time.Second {
		t.Fatalf("the first message, served at once, is %v old", age)
	}
	b.sendText("second") // waits: the only worker is held
	const held = 300 * time.Millisecond
	time.Sleep(held) // the wait being measured
	close(hold)
	// Epoll saw it a moment after the write (a busy machine may take
	// longer): half the wait is the bound; served as it comes, it would be ~0.
	if age := <-ages; age < held/2 {
		t.Fatalf("the second message waited ~%v for the worker, ReadAge says %v", held, age)
	}
}
