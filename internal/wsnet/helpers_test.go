package wsnet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// connState is the data each test connection carries.
type connState struct {
	inMessage atomic.Int32 // OnMessage calls in progress
	closes    atomic.Int32 // OnClose calls
}

type closeEvent struct {
	c   *Conn
	err error
}

// testHandler records what the server reports. By default it echoes every
// message back.
type testHandler struct {
	onMessage  func(c *Conn, p []byte) // nil: echo
	closes     chan closeEvent
	violations atomic.Int32 // concurrent OnMessage or repeated OnClose
}

func newTestHandler() *testHandler {
	return &testHandler{closes: make(chan closeEvent, 4096)}
}

func (h *testHandler) OnMessage(c *Conn, p []byte) {
	st, _ := c.Data().(*connState)
	if st != nil && st.inMessage.Add(1) != 1 {
		h.violations.Add(1)
	}
	if h.onMessage != nil {
		h.onMessage(c, p)
	} else {
		c.Send(bytes.Clone(p))
	}
	if st != nil {
		st.inMessage.Add(-1)
	}
}

func (h *testHandler) OnClose(c *Conn, err error) {
	if st, _ := c.Data().(*connState); st != nil {
		if st.closes.Add(1) != 1 {
			h.violations.Add(1)
		}
		if st.inMessage.Load() != 0 {
			h.violations.Add(1)
		}
	}
	h.closes <- closeEvent{c: c, err: err}
}

// waitClose returns the next OnClose event.
func (h *testHandler) waitClose(t *testing.T, timeout time.Duration) closeEvent {
	t.Helper()
	select {
	case ev := <-h.closes:
		return ev
	case <-time.After(timeout):
		t.Fatalf(
			"no OnClose within %v",
			timeout,
		)
		return closeEvent{}
	}
}

// startServer runs a Server behind an httptest server; both are closed at
// the end of the test.
func startServer(t testing.TB, h Handler, opts Options) (*Server, string) {
	t.Helper()
	s, err := NewServer(h, opts)
	if err != nil {
		t.Fatalf(
			"NewServer: %v",
			err,
		)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Upgrade(w, r, &connState{})
	}))
	t.Cleanup(func() {
		hs.Close()
		s.Close()
	})
	return s, "ws://" + strings.TrimPrefix(hs.URL, "http://") + "/ws"
}

// client is a minimal WebSocket client for tests.
type client struct {
	t    testing.TB
	conn net.Conn
	r    io.Reader
}

func dial(t testing.TB, url string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, url)
	if err != nil {
		t.Fatalf(
			"dial %s: %v",
			url, err,
		)
	}
	c := &client{t: t, conn: conn, r: conn}
	if br != nil {
		c.r = br
	}
	t.Cleanup(func() { conn.Close() })
	return c
}

// writeFrame writes a masked client frame.
func (c *client) writeFrame(op ws.OpCode, fin bool, p []byte) error {
	f := ws.NewFrame(op, fin, bytes.Clone(p))
	return ws.WriteFrame(c.conn, ws.MaskFrameInPlace(f))
}

func (c *client) sendText(p string) {
	c.t.Helper()
	if err := c.writeFrame(ws.OpText, true, []byte(p)); err != nil {
		c.t.Fatalf(
			"write: %v",
			err,
		)
	}
}

// readFrame reads one server frame.
func (c *client) readFrame(timeout time.Duration) (ws.Header, []byte, error) {
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	defer c.conn.SetReadDeadline(time.Time{})
	h, err := ws.ReadHeader(c.r)
	if err != nil {
		return h, nil, err
	}
	if h.Masked {
		return h, nil, errors.New("server frame is masked")
	}
	if h.Length > 1<<24 {
		return h, nil, errors.New("server frame too long")
	}
	p := make([]byte, h.Length)
	_, err = io.ReadFull(c.r, p)
	return h, p, err
}

// readText reads the next text message, skipping pings.
func (c *client) readText() string {
	c.t.Helper()
	for {
		h, p, err := c.readFrame(5 * time.Second)
		if err != nil {
			c.t.Fatalf(
				"read: %v",
				err,
			)
		}
		switch h.OpCode {
		case ws.OpText:
			if !h.Fin {
				c.t.Fatalf(
					"server sent a fragment",
				)
			}
			return string(p)
		case ws.OpPing:
			continue
		default:
			c.t.Fatalf(
				"got opcode %v (%q), want text",
				h.OpCode, p,
			)
		}
	}
}

// expectClose reads until a close frame and checks its status code.
func (c *client) expectClose(want ws.StatusCode, timeout time.Duration) string {
	c.t.Helper()
	for {
		h, p, err := c.readFrame(timeout)
		if err != nil {
			c.t.Fatalf(
				"waiting for close %d: %v",
				want, err,
			)
		}
		if h.OpCode != ws.OpClose {
			continue
		}
		code, reason := ws.ParseCloseFrameData(p)
		if code != want {
			c.t.Fatalf(
				"close code %d (%q), want %d",
				code, reason, want,
			)
		}
		return reason
	}
}

// expectEOF checks that the server closed the TCP connection.
func (c *client) expectEOF(timeout time.Duration) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, c.r)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		c.t.Fatalf(
			"want EOF, got %v",
			err,
		)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf(
				"timed out waiting for %s",
				what,
			)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitGoroutines waits until at most n goroutines run.
func waitGoroutines(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf(
				"%d goroutines, want <= %d:\n%s",
				runtime.NumGoroutine(), n, buf,
			)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fakeConn is a net.Conn that reads from a byte slice and discards writes.
type fakeConn struct {
	r *bytes.Reader

	mu      sync.Mutex
	written bytes.Buffer
}

func (f *fakeConn) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *fakeConn) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.written.Len() < 1<<20 {
		f.written.Write(p)
	}
	return len(p), nil
}
func (f *fakeConn) Close() error                     { return nil }
func (f *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (f *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (f *fakeConn) SetDeadline(time.Time) error      { return nil }
func (f *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// nopPoller stands in for epoll when the read path runs over a fakeConn.
type nopPoller struct{}

func (nopPoller) add(_ syscall.RawConn, _ uint64) error   { return nil }
func (nopPoller) rearm(_ syscall.RawConn, _ uint64) error { return nil }
func (nopPoller) remove(_ syscall.RawConn) error          { return nil }
func (nopPoller) wait(func([]uint64)) error               { return nil }
func (nopPoller) wake() error                             { return nil }
func (nopPoller) close() error                            { return nil }

// newLoopless makes a Server without poller, workers or sweeper, to drive
// the read path by hand. Its task queue has no reader, so a worker never
// hands a connection over.
func newLoopless(t testing.TB, h Handler, opts Options) *Server {
	t.Helper()
	opts, err := opts.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{
		h:     h,
		opts:  opts,
		poll:  nopPoller{},
		start: time.Now(),
		conns: make(map[uint64]*Conn),
		tasks: make(chan *Conn),
		quit:  make(chan struct{}),
	}
	s.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	s.batches.New = func() any { return new(writeBatch) }
	if opts.Deflate {
		s.flate = newDeflater(&s.stats)
	}
	return s
}

// feed runs the read path over data until the connection closes, playing
// the roles of epoll and of the task queue, and returns the connection and
// what it wrote.
func feed(t testing.TB, s *Server, data []byte, st *connState) (*Conn, *fakeConn) {
	fc := &fakeConn{r: bytes.NewReader(data)}
	c := s.newConn(fc, nil, st)
	c.deflate = s.flate != nil // as if every client offered permessage-deflate
	s.connWG.Add(1)
	s.open.Add(1)
	w := newWorker(s)
	c.busy.Store(true)
	for i := 0; i <= len(data)+1; i++ {
		w.serve(c)
		if c.closing.Load() {
			return c, fc
		}
		if c.busy.CompareAndSwap(false, true) {
			continue // re-armed: a fake connection is always readable
		}
		// Still held: reading paused until the writer hands c back.
		select {
		case got := <-s.tasks:
			if got != c {
				t.Fatalf(
					"foreign connection in the task queue",
				)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf(
				"paused connection never resumed",
			)
		}
	}
	t.Fatalf(
		"connection still open after the whole input",
	)
	return nil, nil
}

// masked builds a masked client frame.
func masked(op ws.OpCode, fin bool, p string) []byte {
	b, _ := ws.CompileFrame(ws.MaskFrameInPlace(ws.NewFrame(op, fin, []byte(p))))
	return b
}

// unmasked builds an unmasked frame.
func unmasked(op ws.OpCode, fin bool, p string) []byte {
	b, _ := ws.CompileFrame(ws.NewFrame(op, fin, []byte(p)))
	return b
}

// readAllFrames parses server frames from b.
func readAllFrames(b []byte) []ws.Frame {
	var out []ws.Frame
	r := bufio.NewReader(bytes.NewReader(b))
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			return out
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil {
			return out
		}
		out = append(out, ws.Frame{Header: h, Payload: p})
	}
}
