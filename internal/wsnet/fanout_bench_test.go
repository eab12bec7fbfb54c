package wsnet

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkFanoutSend sends each message to 500 connections (a large
// group's share on one node) with Conn.Send, while the clients drain their
// sockets, and reports per delivery: the time (ns/delivery, both ends on
// the same CPUs), the heap allocations (allocs/delivery: the delivery path
// itself should make none) and how many frames one socket write carried
// (frames/write) and the CPU time of the process, both ends included
// (cpu-ns/delivery), with and without Options.WriteDelay. "burst" sends the
// messages back to back (the write queues batch by themselves); "paced"
// sends one message per millisecond, a busy room's steady rate, where a
// connection's writer is idle when each message arrives.
func BenchmarkFanoutSend(b *testing.B) {
	for _, pace := range []time.Duration{0, time.Millisecond} {
		for _, delay := range []time.Duration{0, time.Millisecond, 2 * time.Millisecond} {
			name := fmt.Sprintf("burst/delay=%v", delay)
			if pace > 0 {
				name = fmt.Sprintf("paced/delay=%v", delay)
			}
			b.Run(name, func(b *testing.B) { fanoutSend(b, 500, pace, delay) })
		}
	}
}

func fanoutSend(b *testing.B, n int, pace, delay time.Duration) {
	if limit := raiseNoFile(b); limit < uint64(2*n+512) {
		b.Skipf("RLIMIT_NOFILE %d is too low", limit)
	}
	s, url := startServer(b, nopHandler{}, Options{WriteDelay: delay, WriteQueue: 4096})
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")
	req := "GET /ws HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	clients := dialRaw(b, addr, n, req)
	defer closeAll(clients)
	waitFor(b, "registered", 30*time.Second, func() bool { return s.Len() == n })
	var conns []*Conn
	s.Range(func(c *Conn) bool { conns = append(conns, c); return true })

	var drained sync.WaitGroup
	for _, c := range clients {
		drained.Add(1)
		go func(c net.Conn) { defer drained.Done(); io.Copy(io.Discard, c) }(c)
	}
	msg := []byte(`{"type":"message","message":{"room_id":"01J0000000000000000000ROOM","seq":1,"from":"01J0000000000000000000USER","body":"` +
		strings.Repeat("x", 100) + `"}}`)

	before := s.Stats()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime(b)
	b.ResetTimer()
	next := time.Now()
	for range b.N {
		if pace > 0 {
			next = next.Add(pace)
			time.Sleep(time.Until(next))
		}
		for _, c := range conns {
			if !c.Send(msg) {
				b.Fatal("Send refused: queue full or closed")
			}
		}
	}
	want := before.FramesOut + uint64(b.N*n)
	waitFor(b, "frames written", time.Minute, func() bool { return s.Stats().FramesOut >= want })
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	runtime.ReadMemStats(&m1)
	after := s.Stats()
	deliveries := float64(b.N * n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/deliveries, "ns/delivery")
	b.ReportMetric(float64(cpu.Nanoseconds())/deliveries, "cpu-ns/delivery")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/deliveries, "allocs/delivery")
	b.ReportMetric(float64(after.FramesOut-before.FramesOut)/float64(max(1, after.Writes-before.Writes)), "frames/write")
	s.Close()
	closeAll(clients)
	drained.Wait()
}
