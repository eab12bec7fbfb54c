// Package statstest holds behavioural tests that every stats.Stats
// implementation must pass. An implementation's test calls Run with a
// constructor that takes the clock; each subtest gets a fresh Stats.
package statstest

import (
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/stats"
)

// Clock is a settable clock for the suite.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Run runs the suite; newS returns a Stats isolated from the other
// subtests', reading time from now.
func Run(t *testing.T, newS func(t *testing.T, now func() time.Time) stats.Stats) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s stats.Stats, c *Clock)
	}{
		{"ReportAndNodes", testReportAndNodes},
		{"ReportLapses", testReportLapses},
		{"Messages", testMessages},
		{"BadArguments", testBadArguments},
		{"ConcurrentCounts", testConcurrentCounts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Clock{t: time.Date(2026, 12, 2, 14, 0, 30, 0, time.UTC)}
			tc.fn(t, newS(t, c.Now), c)
		})
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func testReportAndNodes(t *testing.T, s stats.Stats, c *Clock) {
	ctx := t.Context()
	ns, err := s.Nodes(ctx)
	must(t, "Nodes", err)
	if len(ns) != 0 {
		t.Fatalf("Nodes of a fresh Stats: %+v", ns)
	}
	must(t, "Report b", s.Report(ctx, stats.NodeCounts{Node: "b", Users: 2, Connections: 3}, 15*time.Second))
	must(t, "Report a", s.Report(ctx, stats.NodeCounts{Node: "a", Users: 5, Connections: 9}, 15*time.Second))
	c.Add(time.Second)
	must(t, "Report b again", s.Report(ctx, stats.NodeCounts{Node: "b", Users: 4, Connections: 4}, 15*time.Second))
	ns, err = s.Nodes(ctx)
	must(t, "Nodes", err)
	if len(ns) != 2 || ns[0].Node != "a" || ns[0].Users != 5 || ns[0].Connections != 9 ||
		ns[1].Node != "b" || ns[1].Users != 4 || ns[1].Connections != 4 || !ns[1].At.Equal(c.Now()) {
		t.Fatalf("Nodes = %+v", ns)
	}
}

func testReportLapses(t *testing.T, s stats.Stats, c *Clock) {
	ctx := t.Context()
	must(t, "Report a", s.Report(ctx, stats.NodeCounts{Node: "a", Users: 1, Connections: 1}, 10*time.Second))
	must(t, "Report b", s.Report(ctx, stats.NodeCounts{Node: "b", Users: 1, Connections: 1}, 30*time.Second))
	c.Add(10 * time.Second)
	ns, err := s.Nodes(ctx)
	must(t, "Nodes", err)
	if len(ns) != 1 || ns[0].Node != "b" {
		t.Fatalf("Nodes after a's report lapsed = %+v", ns)
	}
	// A lapsed node that reports again is back.
	must(t, "Report a again", s.Report(ctx, stats.NodeCounts{Node: "a", Users: 7, Connections: 8}, 10*time.Second))
	ns, err = s.Nodes(ctx)
	must(t, "Nodes", err)
	if len(ns) != 2 || ns[0].Users != 7 {
		t.Fatalf("Nodes after a reported again = %+v", ns)
	}
}

func testMessages(t *testing.T, s stats.Stats, c *Clock) {
	ctx := t.Context()
	now := c.Now()
	must(t, "count", s.CountMessages(ctx, now, 3))
	must(t, "count", s.CountMessages(ctx, now.Add(-10*time.Second), 2))
	must(t, "count 2 min ago", s.CountMessages(ctx, now.Add(-2*time.Minute), 7))
	must(t, "count long ago", s.CountMessages(ctx, now.Add(-10*time.Minute), 100))
	ms, err := s.Messages(ctx, now, 3)
	must(t, "Messages", err)
	want := []int64{7, 0, 5}
	if len(ms) != 3 {
		t.Fatalf("Messages = %+v", ms)
	}
	for i, m := range ms {
		if m.Messages != want[i] || !m.Start.Equal(stats.MinuteOf(now).Add(time.Duration(i-2)*time.Minute)) {
			t.Fatalf("Messages = %+v, want counts %v ending at the minute of %v", ms, want, now)
		}
	}
	ms, err = s.Messages(ctx, now.Add(time.Minute), 1)
	must(t, "Messages next minute", err)
	if len(ms) != 1 || ms[0].Messages != 0 {
		t.Fatalf("next minute: %+v", ms)
	}
}

func testBadArguments(t *testing.T, s stats.Stats, c *Clock) {
	ctx := t.Context()
	for _, n := range []int{0, -1, stats.MaxMinutes + 1} {
		if _, err := s.Messages(ctx, c.Now(), n); err == nil {
			t.Errorf("Messages(%d) succeeded", n)
		}
	}
	if err := s.Report(ctx, stats.NodeCounts{}, time.Second); err == nil {
		t.Error("Report without a node name succeeded")
	}
	if err := s.Report(ctx, stats.NodeCounts{Node: "a"}, 0); err == nil {
		t.Error("Report without a ttl succeeded")
	}
}

func testConcurrentCounts(t *testing.T, s stats.Stats, c *Clock) {
	ctx := t.Context()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				if err := s.CountMessages(ctx, c.Now(), 1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	ms, err := s.Messages(ctx, c.Now(), 1)
	must(t, "Messages", err)
	if ms[0].Messages != 200 {
		t.Fatalf("200 concurrent counts gave %d", ms[0].Messages)
	}
}
