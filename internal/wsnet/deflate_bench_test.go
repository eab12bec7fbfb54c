package wsnet

import (
	"encoding/json"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// chatMix returns n message frames as the gateway encodes them: 85% short
// texts (bodies of 20-200 bytes), 15% rich messages of 1-4 KB (a custom
// payload with nested fields, mentions, reactions, a quoted reply).
func chatMix(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields(`ok yes no thanks see you tomorrow at the office meeting moved to three
		can you send me the file please I am on my way running late sounds good lunch today?
		deploy is done the build failed again let me check which room was it 🙂 👍 haha sure`)
	id := func() string { // ULID-like: 26 random base32 characters
		const enc = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
		var b [26]byte
		for i := range b {
			b[i] = enc[rng.IntN(32)]
		}
		return string(b[:])
	}
	text := func(min, max int) string {
		want := min + rng.IntN(max-min+1)
		var b strings.Builder
		for b.Len() < want {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		return b.String()[:want]
	}
	frames := make([][]byte, n)
	t0 := time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC)
	for i := range frames {
		m := protocol.Message{ID: id(), RoomID: "room-" + id()[:8], Seq: int64(1000 + i), From: "user-" + id()[:10],
			ClientMsgID: id(), CreatedAt: t0.Add(time.Duration(i) * 1377 * time.Millisecond), Kind: "text"}
		if rng.IntN(100) < 85 {
			m.Body = text(20, 200)
		} else {
			m.Kind = "custom"
			m.Body = text(20, 80)
			m.Mentions = []string{"user-" + id()[:10], "user-" + id()[:10]}
			m.Reply = &protocol.Quote{Seq: int64(900 + i), From: "user-" + id()[:10], Kind: "text"}
			m.Reactions = []protocol.Reaction{{Emoji: "👍", Count: 1 + rng.Int64N(9)}, {Emoji: "🎉", Count: 1 + rng.Int64N(4)}}
			size := 1000 + rng.IntN(3000)
			var items []map[string]any
			for enc := 0; enc < size; enc += 190 {
				items = append(items, map[string]any{"id": id(), "title": text(10, 40), "price_cents": rng.IntN(100000),
					"currency": "EUR", "in_stock": rng.IntN(2) == 0, "tags": []string{"new", "sale", text(4, 10)},
					"thumbnail": "https://cdn.example.com/i/" + id() + ".jpg"})
			}
			m.Data, _ = json.Marshal(map[string]any{"card": "order_summary", "order_id": id(), "items": items})
		}
		frames[i] = protocol.EncodeMessage(m)
	}
	return frames
}

// cpuTime is the process's user+system CPU time.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkChatMixWire fans a chat-like mix of frames out to 8 clients over
// real sockets, with and without permessage-deflate, and reports what the
// server wrote per frame and connection (wire-B/frame, headers included),
// the raw payload size for comparison (payload-B/frame) and the process
// CPU per frame (server and the 8 in-process clients, which inflate:
// cpu-µs/frame). Each frame is compressed once for the 8 connections
// (compressions/frame).
func BenchmarkChatMixWire(b *testing.B) {
	for _, mode := range []struct {
		name    string
		deflate bool
		thresh  int
	}{{"plain", false, 0}, {"deflate-1", true, 1}, {"deflate-256", true, 256}, {"deflate-512", true, 512}, {"deflate-1024", true, 1024}} {
		b.Run(mode.name, func(b *testing.B) {
			const clients = 8
			frames := chatMix(1000)
			s, url := startServer(b, nopHandler{}, Options{Deflate: mode.deflate, DeflateThreshold: mode.thresh, WriteQueue: 4096})
			offer := ""
			if mode.deflate {
				offer = "permessage-deflate; client_max_window_bits"
			}
			var cs []*client
			for range clients {
				c, ext := rawDial(b, url, offer)
				if mode.deflate != (ext != "") {
					b.Fatalf("negotiated %q", ext)
				}
				cs = append(cs, c)
			}
			waitFor(b, "registered", 5*time.Second, func() bool { return s.Len() == clients })
			var conns []*Conn
			s.Range(func(c *Conn) bool { conns = append(conns, c); return true })

			// Each client reads (and inflates) b.N frames.
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			start := make(chan struct{})
			for _, c := range cs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var out []byte
					var st counters
					inf := newDeflater(&st) // a client with pooled inflate state
					<-start
					for range b.N {
						h, err := ws.ReadHeader(c.r)
						if err != nil {
							errs <- err
							return
						}
						p := make([]byte, h.Length)
						if _, err := io.ReadFull(c.r, p); err != nil {
							errs <- err
							return
						}
						if h.Rsv != 0 {
							if out, err = inf.inflate(out[:0], p, 1<<20); err != nil {
								errs <- err
								return
							}
						}
					}
				}()
			}
			st0, cpu0 := s.Stats(), cpuTime(b)
			var payload int
			b.ResetTimer()
			close(start)
			for i := range b.N {
				f := frames[i%len(frames)]
				payload += len(f)
				for _, c := range conns {
					for !c.Send(f) {
						b.Fatal("Send failed")
					}
				}
				if i%256 == 255 { // keep the queues short: wait for the writers
					waitFor(b, "written", 10*time.Second, func() bool { return s.Stats().FramesOut-st0.FramesOut >= uint64((i+1)*clients) })
				}
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			waitFor(b, "written", 10*time.Second, func() bool { return s.Stats().FramesOut-st0.FramesOut >= uint64(b.N*clients) })
			st := s.Stats()
			b.ReportMetric(float64(st.BytesOut-st0.BytesOut)/float64(b.N*clients), "wire-B/frame")
			b.ReportMetric(float64(payload)/float64(b.N), "payload-B/frame")
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/frame")
			b.ReportMetric(float64(st.Compressions-st0.Compressions)/float64(b.N), "compressions/frame")
		})
	}
}

// BenchmarkDeflateCompress compresses the chat mix frame by frame (the
// once-per-frame cost of a fan-out) and reports the ratio.
func BenchmarkDeflateCompress(b *testing.B) {
	frames := chatMix(1000)
	var st counters
	d := newDeflater(&st)
	var in, out int
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		f := frames[i%len(frames)]
		z := d.compress(f)
		in += len(f)
		if z == nil {
			out += len(f)
		} else {
			out += len(z)
		}
	}
	b.ReportMetric(float64(out)/float64(in), "ratio")
}

// BenchmarkDeflateInflate inflates the compressed chat mix (what a
// compressed client message costs the server).
func BenchmarkDeflateInflate(b *testing.B) {
	var st counters
	d := newDeflater(&st)
	var zs [][]byte
	for _, f := range chatMix(1000) {
		if z := d.compress(f); z != nil {
			zs = append(zs, z)
		}
	}
	buf := make([]byte, 0, 8<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		var err error
		if buf, err = d.inflate(buf[:0], zs[i%len(zs)], 64<<10); err != nil {
			b.Fatal(err)
		}
	}
}

// TestChatMixShape keeps the benchmark's mix what its comment says.
func TestChatMixShape(t *testing.T) {
	var short, rich int
	for _, f := range chatMix(1000) {
		switch n := len(f); {
		case n < 600:
			short++
		case n >= 1000 && n <= 5500:
			rich++
		default:
			t.Fatalf("frame of %d bytes", n)
		}
	}
	if short < 800 || rich < 100 {
		t.Fatalf("%d short, %d rich", short, rich)
	}
}
