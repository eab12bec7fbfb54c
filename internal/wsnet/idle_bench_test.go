package wsnet

import (
	"bytes"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// raiseNoFile lifts the soft RLIMIT_NOFILE to the hard limit and returns it.
func raiseNoFile(tb testing.TB) uint64 {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatal(err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			tb.Logf("setrlimit: %v", err)
			unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
		}
	}
	return lim.Cur
}

// liveHeap returns the heap in use after garbage collection.
func liveHeap() uint64 {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// dialRaw opens n TCP connections to addr, sending req on each and reading
// the answer up to the end of its headers. Only the net.Conn is kept, so the
// client side costs as little as possible.
func dialRaw(tb testing.TB, addr string, n int, req string) []net.Conn {
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf [512]byte
			for i := g; i < n; i += 4 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					errs <- err
					return
				}
				conns[i] = c
				if req == "" {
					continue
				}
				if _, err := c.Write([]byte(req)); err != nil {
					errs <- err
					return
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				got := 0
				for !bytes.Contains(buf[:got], []byte("\r\n\r\n")) {
					m, err := c.Read(buf[got:])
					if err != nil {
						errs <- err
						return
					}
					got += m
				}
				if !bytes.HasPrefix(buf[:got], []byte("HTTP/1.1 101")) {
					errs <- fmt.Errorf("handshake answer %q", buf[:got])
					return
				}
				c.SetReadDeadline(time.Time{})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return conns
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// BenchmarkIdleConns opens up to 10,000 idle WebSocket connections (client
// and server in this process) and reports the heap they hold, per
// connection: heap-B/conn for both ends; tcp-pair-B/conn for the same number
// of plain TCP connection pairs (net.Conn on both ends, nothing else); and
// wsnet-B/conn, the difference, which is what this package adds on the
// server side. It also reports goroutines per idle connection.
func BenchmarkIdleConns(b *testing.B) { idleConns(b, false) }

// BenchmarkIdleConnsDeflate is BenchmarkIdleConns with permessage-deflate
// offered by every client and negotiated: without context takeover a
// connection holds no compression state, so the figures should match.
func BenchmarkIdleConnsDeflate(b *testing.B) { idleConns(b, true) }

func idleConns(b *testing.B, deflate bool) {
	limit := raiseNoFile(b)
	n := min(10000, int(limit-512)/2)
	if n < 100 {
		b.Skipf("RLIMIT_NOFILE %d is too low", limit)
	}
	for range b.N {
		pair := tcpPairHeap(b, n)

		s, url := startServer(b, nopHandler{}, Options{Deflate: deflate})
		addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")
		req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
		if deflate {
			req += "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
		}
		req += "\r\n"
		warm := dialRaw(b, addr, 16, req) // warm up pools and server goroutines
		waitFor(b, "warm-up registered", 10*time.Second, func() bool { return s.Len() == 16 })
		time.Sleep(100 * time.Millisecond)
		g0 := runtime.NumGoroutine()
		h0 := liveHeap()
		start := time.Now()
		conns := dialRaw(b, addr, n, req)
		waitFor(b, "registered", 30*time.Second, func() bool { return s.Len() == n+16 })
		took := time.Since(start)
		time.Sleep(200 * time.Millisecond) // let handler goroutines exit
		h1 := liveHeap()
		g1 := runtime.NumGoroutine()

		total := float64(h1-h0) / float64(n)
		b.ReportMetric(total, "heap-B/conn")
		b.ReportMetric(pair, "tcp-pair-B/conn")
		b.ReportMetric(total-pair, "wsnet-B/conn")
		b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/conn")
		b.ReportMetric(float64(n), "conns")
		b.ReportMetric(float64(took.Microseconds())/float64(n), "µs-upgrade/conn")
		runtime.KeepAlive(conns) // unreachable net.Conns get closed by finalizers
		if deflate && s.Stats().Deflate != uint64(n+16) {
			b.Fatalf("%d of %d connections negotiated deflate", s.Stats().Deflate, n+16)
		}

		s.Close() // the server closes first: TIME_WAIT stays off the client ports
		closeAll(conns)
		closeAll(warm)
	}
}

// nopHandler ignores everything.
type nopHandler struct{}

func (nopHandler) OnMessage(*Conn, []byte) {}
func (nopHandler) OnClose(*Conn, error)    {}

// tcpPairHeap measures the heap held per plain TCP connection pair.
func tcpPairHeap(b *testing.B, n int) float64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, n)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	h0 := liveHeap()
	conns := dialRaw(b, ln.Addr().String(), n, "")
	server := make([]net.Conn, 0, n)
	for range n {
		select {
		case c := <-accepted:
			server = append(server, c)
		case <-time.After(30 * time.Second):
			b.Fatal("accept timed out")
		}
	}
	h1 := liveHeap()
	runtime.KeepAlive(conns)
	closeAll(server)
	closeAll(conns)
	return float64(h1-h0) / float64(n)
}
