package wsnet

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// compressedFrame builds a masked client frame whose payload is text
// compressed without context (RSV1 set).
func compressedFrame(tb testing.TB, fin bool, text string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := wsflate.DefaultHelper.CompressTo(&buf, []byte(text)); err != nil {
		tb.Fatal(err)
	}
	return maskedRsv(ws.OpText, rsv1, buf.String(), fin)
}

// maskedRsv builds a masked client frame with the given RSV bits; fin
// defaults to true.
func maskedRsv(op ws.OpCode, rsv byte, p string, fin ...bool) []byte {
	f := ws.NewFrame(op, len(fin) == 0 || fin[0], []byte(p))
	f.Header.Rsv = rsv
	b, _ := ws.CompileFrame(ws.MaskFrameInPlace(f))
	return b
}

// rawDial upgrades a connection offering the raw Sec-WebSocket-Extensions
// value ext ("" offers nothing) and returns the client and the server's
// answer to the offer.
func rawDial(t testing.TB, url, ext string) (*client, string) {
	t.Helper()
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if ext != "" {
		req += "Sec-WebSocket-Extensions: " + ext + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetReadDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("offer %q: HTTP %d, want 101", ext, resp.StatusCode)
	}
	return &client{t: t, conn: nc, r: br}, resp.Header.Get("Sec-WebSocket-Extensions")
}

// readMsg reads the next text frame, inflating it if RSV1 is set.
func (c *client) readMsg() (text string, compressed bool) {
	c.t.Helper()
	for {
		h, p, err := c.readFrame(5 * time.Second)
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if h.OpCode == ws.OpPing {
			continue
		}
		if h.OpCode != ws.OpText || !h.Fin {
			c.t.Fatalf("got %+v (%q), want one text frame", h, p)
		}
		if h.Rsv == 0 {
			return string(p), false
		}
		if h.Rsv != rsv1 {
			c.t.Fatalf("RSV bits %b", h.Rsv)
		}
		f, err := wsflate.DecompressFrame(ws.Frame{Header: h, Payload: p})
		if err != nil {
			c.t.Fatalf("inflate the server's frame: %v", err)
		}
		return string(f.Payload), true
	}
}

func (c *client) write(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// chatJSON is a message frame of about n bytes, as the gateway sends them.
func chatJSON(i, n int) string {
	head := fmt.Sprintf(`{"type":"message","room_id":"r-%d","seq":%d,"sender":"user-%d","client_msg_id":"c-%08d","created_at":"2026-12-03T07:10:41.%03dZ","body":"`, i%7, i, i%13, i, i%1000)
	words := []string{"hello", "are", "you", "coming", "tonight", "the", "meeting", "moved", "to", "room", "42", "ok", "see", "you", "there", "🙂"}
	var b strings.Builder
	b.WriteString(head)
	for j := i; b.Len() < n-2; j++ {
		b.WriteString(words[(j*7+i)%len(words)])
		b.WriteByte(' ')
	}
	b.WriteString(`"}`)
	return b.String()
}

// TestDeflateNegotiation checks the answers to the offers a client may make.
func TestDeflateNegotiation(t *testing.T) {
	const accepted = "permessage-deflate;server_no_context_takeover;client_no_context_takeover"
	cases := []struct {
		offer string
		want  string // the answer, spaces removed; "": not negotiated
	}{
		{"", ""},
		{"permessage-deflate", accepted},
		{"permessage-deflate; client_max_window_bits", accepted},
		{"permessage-deflate; client_max_window_bits=10", accepted},
		{"permessage-deflate; server_no_context_takeover; client_no_context_takeover", accepted},
		{"permessage-deflate; client_no_context_takeover", accepted},
		// The server compresses with the full 32 KiB window: an offer that
		// sets server_max_window_bits is declined (wsflate declines any
		// value when the server wants none), then the next one is taken.
		{"permessage-deflate; server_max_window_bits=15", ""},
		{"permessage-deflate; server_max_window_bits=10", ""},
		{"permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits", accepted},
		// Malformed offers are declined, the upgrade still succeeds.
		{"permessage-deflate; bogus", ""},
		{"permessage-deflate; client_max_window_bits=99", ""},
		{"permessage-deflate; server_no_context_takeover=1", ""},
		{"permessage-deflate; bogus, permessage-deflate", accepted},
		{"x-webkit-deflate-frame", ""},
	}
	h := newTestHandler()
	s, url := startServer(t, h, Options{Deflate: true})
	_, offURL := startServer(t, newTestHandler(), Options{})
	var negotiated uint64
	for _, tc := range cases {
		t.Run(tc.offer, func(t *testing.T) {
			c, got := rawDial(t, url, tc.offer)
			if strings.ReplaceAll(got, " ", "") != tc.want {
				t.Fatalf("offer %q: answer %q, want %q", tc.offer, got, tc.want)
			}
			if tc.want != "" {
				negotiated++
			}
			// Whatever was negotiated, a short message goes both ways.
			c.write(masked(ws.OpText, true, "hi"))
			if msg, z := c.readMsg(); msg != "hi" || z {
				t.Fatalf("echo %q compressed=%v", msg, z)
			}
			// Without the option nothing is negotiated.
			if _, got := rawDial(t, offURL, tc.offer); got != "" {
				t.Fatalf("server without Deflate answered %q", got)
			}
		})
	}
	if st := s.Stats(); st.Deflate != negotiated {
		t.Fatalf("Stats.Deflate %d, want %d", st.Deflate, negotiated)
	}
}

// TestDeflateRoundTrip sends compressed and uncompressed messages both ways,
// fragmented ones included, and checks the threshold.
func TestDeflateRoundTrip(t *testing.T) {
	const threshold = 100
	h := newTestHandler()
	got := make(chan string, 16)
	h.onMessage = func(c *Conn, p []byte) {
		if !c.Deflate() {
			t.Errorf("connection did not negotiate deflate")
		}
		got <- string(p)
		c.Send(bytes.Clone(p))
	}
	s, url := startServer(t, h, Options{Deflate: true, DeflateThreshold: threshold})
	c, ext := rawDial(t, url, "permessage-deflate; client_max_window_bits")
	if ext == "" {
		t.Fatal("deflate not negotiated")
	}
	long := chatJSON(1, 1500)
	below := strings.Repeat("a", threshold-1)
	at := strings.Repeat("a", threshold)
	steps := []struct {
		name  string
		frame []byte
		text  string
		z     bool // the echo is compressed
	}{
		{"compressed in, compressed out", compressedFrame(t, true, long), long, true},
		{"plain in, compressed out", masked(ws.OpText, true, long), long, true},
		{"compressed short in, plain out", compressedFrame(t, true, below), below, false},
		{"plain below threshold", masked(ws.OpText, true, below), below, false},
		{"plain at threshold", masked(ws.OpText, true, at), at, true},
		{"unicode", compressedFrame(t, true, "héllo 🙂 "+long), "héllo 🙂 " + long, true},
	}
	for _, st := range steps {
		c.write(st.frame)
		if in := <-got; in != st.text {
			t.Fatalf("%s: server got %d bytes %.40q, want %d bytes", st.name, len(in), in, len(st.text))
		}
		if out, z := c.readMsg(); out != st.text || z != st.z {
			t.Fatalf("%s: echo %.40q compressed=%v, want compressed=%v", st.name, out, z, st.z)
		}
	}

	// A fragmented compressed message: RSV1 on the first frame only, the
	// deflate stream split anywhere.
	var buf bytes.Buffer
	if err := wsflate.DefaultHelper.CompressTo(&buf, []byte(long)); err != nil {
		t.Fatal(err)
	}
	z := buf.Bytes()
	c.write(maskedRsv(ws.OpText, rsv1, string(z[:7]), false))
	c.write(masked(ws.OpPing, true, "p"))
	c.write(masked(ws.OpContinuation, false, string(z[7:20])))
	c.write(masked(ws.OpContinuation, true, string(z[20:])))
	if in := <-got; in != long {
		t.Fatalf("fragmented: server got %.40q", in)
	}
	for {
		h, p, err := c.readFrame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if h.OpCode == ws.OpPong {
			if string(p) != "p" || h.Rsv != 0 {
				t.Fatalf("pong %+v %q", h, p)
			}
			break
		}
		t.Fatalf("got %+v before the pong", h)
	}
	if out, z := c.readMsg(); out != long || !z {
		t.Fatalf("fragmented: echo compressed=%v", z)
	}
	// The writer counts a frame after the write returns: the client may
	// have read it just before.
	waitFor(t, "stats", 5*time.Second, func() bool {
		st := s.Stats()
		return st.InflatedIn == 4 && st.CompressedOut == 5 && st.Compressions == 5
	})
}

// TestDeflatePlainClient: a client that does not offer the extension gets
// uncompressed frames from a Deflate server, and RSV1 from it is a
// protocol error as before.
func TestDeflatePlainClient(t *testing.T) {
	h := newTestHandler()
	_, url := startServer(t, h, Options{Deflate: true})
	c, ext := rawDial(t, url, "")
	if ext != "" {
		t.Fatalf("answer %q to no offer", ext)
	}
	long := chatJSON(2, 2000)
	c.write(masked(ws.OpText, true, long))
	if out, z := c.readMsg(); out != long || z {
		t.Fatalf("echo compressed=%v", z)
	}
	c.write(compressedFrame(t, true, long))
	c.expectClose(ws.StatusProtocolError, 5*time.Second)
	if ev := h.waitClose(t, 5*time.Second); !errors.Is(ev.err, ErrProtocol) {
		t.Fatalf("OnClose %v, want ErrProtocol", ev.err)
	}
}

// TestDeflateBadFrames: misplaced RSV bits and corrupt deflate data close
// with 1002; a message that inflates beyond MaxMessageSize closes with 1009.
func TestDeflateBadFrames(t *testing.T) {
	bomb := strings.Repeat("0", 8<<20) // 8 MiB of zeros: about 8 KiB compressed
	cases := []struct {
		name  string
		frame []byte
		code  ws.StatusCode
		cause error
	}{
		{"RSV1 on a control frame", maskedRsv(ws.OpPing, rsv1, "x"), ws.StatusProtocolError, ErrProtocol},
		{"RSV1 on a continuation", append(compressedFrame(t, false, "abc"), maskedRsv(ws.OpContinuation, rsv1, "x")...), ws.StatusProtocolError, ErrProtocol},
		{"RSV2", maskedRsv(ws.OpText, 1<<1, "x"), ws.StatusProtocolError, ErrProtocol},
		{"RSV1 and RSV3", maskedRsv(ws.OpText, rsv1|1, "x"), ws.StatusProtocolError, ErrProtocol},
		{"corrupt deflate data", maskedRsv(ws.OpText, rsv1, "\xff\xff\xff\xff"), ws.StatusProtocolError, ErrProtocol},
		{"zip bomb", compressedFrame(t, true, bomb), ws.StatusMessageTooBig, ErrMessageTooBig},
		{"just over the limit", compressedFrame(t, true, strings.Repeat("y", 1025)), ws.StatusMessageTooBig, ErrMessageTooBig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newTestHandler()
			h.onMessage = func(c *Conn, p []byte) { t.Errorf("delivered %d bytes", len(p)) }
			s, url := startServer(t, h, Options{Deflate: true, MaxMessageSize: 1024})
			c, _ := rawDial(t, url, "permessage-deflate")
			c.write(tc.frame)
			c.expectClose(tc.code, 5*time.Second)
			if ev := h.waitClose(t, 5*time.Second); !errors.Is(ev.err, tc.cause) {
				t.Fatalf("OnClose %v, want %v", ev.err, tc.cause)
			}
			if tc.code == ws.StatusMessageTooBig && s.Stats().Oversize != 1 {
				t.Fatalf("Oversize %d", s.Stats().Oversize)
			}
		})
	}
	// At the limit exactly is fine.
	h := newTestHandler()
	_, url := startServer(t, h, Options{Deflate: true, MaxMessageSize: 1024})
	c, _ := rawDial(t, url, "permessage-deflate")
	exact := strings.Repeat("y", 1024)
	c.write(compressedFrame(t, true, exact))
	if out, z := c.readMsg(); out != exact || !z {
		t.Fatalf("1024-byte message: echo %d bytes compressed=%v", len(out), z)
	}
}

// TestInflateBombAllocation: inflating a message far beyond the limit
// allocates about the limit, not the inflated size.
func TestInflateBombAllocation(t *testing.T) {
	var st counters
	d := newDeflater(&st)
	bomb := d.compress(make([]byte, 16<<20)) // 16 MiB of zeros in about 70 KiB
	const limit = 256 << 10
	if _, err := d.inflate(nil, bomb, limit); !errors.Is(err, errInflateLimit) {
		t.Fatalf("inflate: %v, want errInflateLimit", err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	out, err := d.inflate(make([]byte, 0, 512), bomb, limit)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errInflateLimit) {
		t.Fatalf("inflate: %v, want errInflateLimit", err)
	}
	if len(out) > limit+1 {
		t.Fatalf("read %d bytes past the limit", len(out)-limit)
	}
	// The output buffer grows by doubling (under 2×limit in all); the
	// pooled reader may have been dropped by a GC (a new one is about
	// 45 KiB). Far below the 16 MiB the bomb inflates to.
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 3*limit+64<<10 {
		t.Fatalf("inflating a bomb allocated %d bytes with a limit of %d", alloc, limit)
	}
	t.Logf("a %d-byte bomb of 16 MiB allocated %d bytes to be refused at %d", len(bomb), alloc, limit)
}

// TestDeflateFanOutCompressesOnce sends one frame to many deflate and plain
// connections: it is compressed once, every deflate client gets it
// compressed, every plain one uncompressed.
func TestDeflateFanOutCompressesOnce(t *testing.T) {
	h := newTestHandler()
	h.onMessage = func(*Conn, []byte) {}
	s, url := startServer(t, h, Options{Deflate: true})
	const nz, nplain = 20, 5
	var zs, plains []*client
	for range nz {
		c, ext := rawDial(t, url, "permessage-deflate")
		if ext == "" {
			t.Fatal("not negotiated")
		}
		zs = append(zs, c)
	}
	for range nplain {
		c, _ := rawDial(t, url, "")
		plains = append(plains, c)
	}
	waitFor(t, "connections registered", 5*time.Second, func() bool { return s.Len() == nz+nplain })
	var all []*Conn
	s.Range(func(c *Conn) bool { all = append(all, c); return true })
	frames := []string{chatJSON(3, 600), chatJSON(4, 3000), chatJSON(5, 1200)}
	before := s.Stats().Compressions
	for _, f := range frames {
		b := []byte(f)
		var wg sync.WaitGroup
		// Two goroutines send the same frame at once, each to half of
		// the connections: still one compression.
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < len(all); i += 2 {
					if !all[i].Send(b) {
						t.Errorf("Send failed")
					}
				}
			}()
		}
		wg.Wait()
	}
	if n := s.Stats().Compressions - before; n != uint64(len(frames)) {
		t.Fatalf("%d compressions for %d frames", n, len(frames))
	}
	for _, f := range frames {
		for _, c := range zs {
			if out, z := c.readMsg(); out != f || !z {
				t.Fatalf("deflate client: %.40q compressed=%v", out, z)
			}
		}
		for _, c := range plains {
			if out, z := c.readMsg(); out != f || z {
				t.Fatalf("plain client: %.40q compressed=%v", out, z)
			}
		}
	}
}

// TestDeflateIncompressible: a message that deflate does not shrink goes
// out uncompressed, and the cache remembers that.
func TestDeflateIncompressible(t *testing.T) {
	var st counters
	d := newDeflater(&st)
	raw := make([]byte, 600)
	rand.Read(raw)
	p := []byte(base64.StdEncoding.EncodeToString(raw)[:400])
	// base64 text compresses a little (6 bits a byte): check with
	// binary-like bytes that do not.
	if _, ok := d.compressed(raw); ok {
		t.Fatal("random bytes compressed")
	}
	if _, ok := d.compressed(raw); ok || st.compressions.Load() != 1 {
		t.Fatalf("second call: %d compressions, want 1 (cached)", st.compressions.Load())
	}
	z, ok := d.compressed(p)
	if !ok || len(z) >= len(p) {
		t.Fatalf("base64 text: ok=%v %d -> %d", ok, len(p), len(z))
	}
	back, err := d.inflate(nil, z, 1<<20)
	if err != nil || !bytes.Equal(back, p) {
		t.Fatalf("round trip: %v", err)
	}
	// A copy at another address with the same bytes is compressed again:
	// the cache is keyed by identity, never by content it has not seen.
	if z2, _ := d.compressed(bytes.Clone(p)); !bytes.Equal(z2, z) || st.compressions.Load() != 3 {
		t.Fatalf("copy: %d compressions", st.compressions.Load())
	}
}

func TestRsv1Constant(t *testing.T) {
	if rsv1 != ws.Rsv(true, false, false) {
		t.Fatalf("rsv1 %b, want %b", rsv1, ws.Rsv(true, false, false))
	}
	if b := appendFrameHeader(nil, ws.OpText, rsv1, 3); b[0] != 0xc1 {
		t.Fatalf("header byte %#x, want 0xc1", b[0])
	}
}

// TestDeflateSlowConsumer: a deflate client that stops reading is closed
// by the documented policy (queue full: 1008, ErrSlowConsumer), however
// small its compressed frames.
func TestDeflateSlowConsumer(t *testing.T) {
	h := newTestHandler()
	s, url := startServer(t, h, Options{Deflate: true, WriteQueue: 4})
	_, ext := rawDial(t, url, "permessage-deflate")
	if ext == "" {
		t.Fatal("not negotiated")
	}
	waitFor(t, "registered", 5*time.Second, func() bool { return s.Len() == 1 })
	var c *Conn
	s.Range(func(x *Conn) bool { c = x; return false })
	frame := []byte(chatJSON(7, 4000))
	sent := 0
	for sent < 1_000_000 && c.Send(frame) {
		sent++
	}
	ev := h.waitClose(t, 10*time.Second)
	if !errors.Is(ev.err, ErrSlowConsumer) || s.Stats().SlowConsumers != 1 {
		t.Fatalf("after %d sends: OnClose %v, %d slow consumers", sent, ev.err, s.Stats().SlowConsumers)
	}
	if n := s.Stats().Compressions; n != 1 {
		t.Fatalf("%d compressions of one frame", n)
	}
}
