// Package redisstats implements stats.Stats on Redis (go-redis v9), shared
// by every node.
//
// Keys:
//
//	st:{nodes}       hash: node -> JSON {node, users, connections, at,
//	                 expires (unix ms)}; Nodes skips and removes lapsed
//	                 fields (Redis has no expiry per hash field before 7.4)
//	st:{m}:<minute>  string: messages stored in that unix minute, kept
//	                 2 × stats.MaxMinutes minutes (one hash tag: Messages
//	                 reads them with one MGET, on Redis Cluster too)
package redisstats

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/pkg/stats"
)

// Options tune a Stats; the zero value works.
type Options struct {
	// Prefix starts every key; default "st".
	Prefix string
	// Now is the clock (nil: time.Now); nodes' clocks should agree to
	// within a report interval.
	Now func() time.Time
}

// Stats is stats.Stats on Redis.
type Stats struct {
	c      redis.Cmdable
	prefix string
	now    func() time.Time
}

var _ stats.Stats = (*Stats)(nil)

// New returns a Stats on c (closing c is the caller's job).
func New(c redis.Cmdable, o Options) *Stats {
	if o.Prefix == "" {
		o.Prefix = "st"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Stats{c: c, prefix: o.Prefix, now: o.Now}
}

func (s *Stats) nodesKey() string         { return s.prefix + ":{nodes}" }
func (s *Stats) minuteKey(m int64) string { return s.prefix + ":{m}:" + strconv.FormatInt(m, 10) }

type record struct {
	stats.NodeCounts
	Expires int64 `json:"expires"`
}

// Report records a node's counts until ttl from now.
func (s *Stats) Report(ctx context.Context, c stats.NodeCounts, ttl time.Duration) error {
	if c.Node == "" || ttl <= 0 {
		return fmt.Errorf("redisstats: report: a node name and a positive ttl are required")
	}
	now := s.now()
	if c.At.IsZero() {
		c.At = now
	}
	c.At = c.At.UTC().Truncate(time.Millisecond)
	b, err := json.Marshal(record{NodeCounts: c, Expires: now.Add(ttl).UnixMilli()})
	if err != nil {
		return fmt.Errorf("redisstats: report: %w", err)
	}
	if err := s.c.HSet(ctx, s.nodesKey(), c.Node, b).Err(); err != nil {
		return fmt.Errorf("redisstats: report: %w", err)
	}
	return nil
}

// Nodes returns the live reports by node name and removes lapsed ones.
func (s *Stats) Nodes(ctx context.Context) ([]stats.NodeCounts, error) {
	all, err := s.c.HGetAll(ctx, s.nodesKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstats: nodes: %w", err)
	}
	now := s.now().UnixMilli()
	out := make([]stats.NodeCounts, 0, len(all))
	var lapsed []string
	for name, v := range all {
		var r record
		if json.Unmarshal([]byte(v), &r) != nil || r.Expires <= now {
			lapsed = append(lapsed, name)
			continue
		}
		out = append(out, r.NodeCounts)
	}
	if len(lapsed) > 0 {
		// A node that reports again between the read and this delete
		// loses one report; its next one (an interval later) returns.
		_ = s.c.HDel(ctx, s.nodesKey(), lapsed...).Err()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}

// CountMessages adds n to at's minute (INCRBY and EXPIRE in one pipeline).
func (s *Stats) CountMessages(ctx context.Context, at time.Time, n int64) error {
	k := s.minuteKey(stats.MinuteOf(at).Unix() / 60)
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.IncrBy(ctx, k, n)
		p.Expire(ctx, k, 2*stats.MaxMinutes*time.Minute)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstats: count messages: %w", err)
	}
	return nil
}

// Messages returns the last n minutes' counts, oldest first (one MGET).
func (s *Stats) Messages(ctx context.Context, now time.Time, n int) ([]stats.Minute, error) {
	if n < 1 || n > stats.MaxMinutes {
		return nil, fmt.Errorf("redisstats: messages: %d minutes, want 1-%d", n, stats.MaxMinutes)
	}
	last := stats.MinuteOf(now)
	out := make([]stats.Minute, n)
	keys := make([]string, n)
	for i := range out {
		out[i].Start = last.Add(-time.Duration(n-1-i) * time.Minute)
		keys[i] = s.minuteKey(out[i].Start.Unix() / 60)
	}
	vs, err := s.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstats: messages: %w", err)
	}
	for i, v := range vs {
		if str, ok := v.(string); ok {
			out[i].Messages, _ = strconv.ParseInt(str, 10, 64)
		}
	}
	return out, nil
}
