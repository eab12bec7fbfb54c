// Package memstats implements stats.Stats in memory, for one process
// (standalone) and tests.
package memstats

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/stats"
)

// Stats is an in-memory stats.Stats; the zero value is not usable, call New.
type Stats struct {
	mu      sync.Mutex
	now     func() time.Time
	nodes   map[string]node
	minutes map[int64]int64 // unix minute -> messages
}

type node struct {
	c       stats.NodeCounts
	expires time.Time
}

var _ stats.Stats = (*Stats)(nil)

// New returns an empty Stats; now is the clock (nil: time.Now).
func New(now func() time.Time) *Stats {
	if now == nil {
		now = time.Now
	}
	return &Stats{now: now, nodes: map[string]node{}, minutes: map[int64]int64{}}
}

// Report records a node's counts until ttl from now.
func (s *Stats) Report(_ context.Context, c stats.NodeCounts, ttl time.Duration) error {
	if c.Node == "" || ttl <= 0 {
		return fmt.Errorf("memstats: report: a node name and a positive ttl are required")
	}
	now := s.now()
	if c.At.IsZero() {
		c.At = now
	}
	c.At = c.At.UTC().Truncate(time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodes[c.Node] = node{c: c, expires: now.Add(ttl)}
	return nil
}

// Nodes returns the live reports by node name, forgetting lapsed ones.
func (s *Stats) Nodes(_ context.Context) ([]stats.NodeCounts, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]stats.NodeCounts, 0, len(s.nodes))
	for name, n := range s.nodes {
		if !now.Before(n.expires) {
			delete(s.nodes, name)
			continue
		}
		out = append(out, n.c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

// CountMessages adds n to at's minute and forgets minutes older than
// stats.MaxMinutes.
func (s *Stats) CountMessages(_ context.Context, at time.Time, n int64) error {
	m := stats.MinuteOf(at).Unix() / 60
	s.mu.Lock()
	defer s.mu.Unlock()
	s.minutes[m] += n
	for k := range s.minutes {
		if k <= m-2*stats.MaxMinutes {
			delete(s.minutes, k)
		}
	}
	return nil
}

// Messages returns the last n minutes' counts, oldest first.
func (s *Stats) Messages(_ context.Context, now time.Time, n int) ([]stats.Minute, error) {
	if n < 1 || n > stats.MaxMinutes {
		return nil, fmt.Errorf("memstats: messages: %d minutes, want 1-%d", n, stats.MaxMinutes)
	}
	last := stats.MinuteOf(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]stats.Minute, n)
	for i := range out {
		start := last.Add(-time.Duration(n-1-i) * time.Minute)
		out[i] = stats.Minute{Start: start, Messages: s.minutes[start.Unix()/60]}
	}
	return out, nil
}
