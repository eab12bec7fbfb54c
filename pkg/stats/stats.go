// Package stats keeps the cluster's live numbers for the admin API
// (GET /v1/admin/stats): each gateway's connected users and connections,
// reported periodically and forgotten when a node stops reporting, and the
// messages stored per minute. Redis holds them across nodes
// (stats/redisstats); stats/memstats inside one process (standalone).
package stats

import (
	"context"
	"time"
)

// NodeCounts is one gateway's report.
type NodeCounts struct {
	Node        string    `json:"node"`
	Users       int       `json:"users"`       // distinct users with a connection
	Connections int       `json:"connections"` // open WebSockets
	At          time.Time `json:"at"`          // when it was reported
}

// Minute is the count of messages stored in one minute.
type Minute struct {
	Start    time.Time `json:"start"` // the minute's first instant (UTC)
	Messages int64     `json:"messages"`
}

// MaxMinutes bounds the minutes one Messages call reads, and how long the
// counts are kept.
const MaxMinutes = 60

// Stats is implemented by redisstats and memstats.
type Stats interface {
	// Report records a node's counts (At is set to now when zero); the
	// report is forgotten ttl later unless the node reports again.
	Report(ctx context.Context, c NodeCounts, ttl time.Duration) error
	// Nodes returns the reports not yet forgotten, by node name.
	Nodes(ctx context.Context) ([]NodeCounts, error)
	// CountMessages adds n messages to the minute of at.
	CountMessages(ctx context.Context, at time.Time, n int64) error
	// Messages returns the counts of the n minutes (1..MaxMinutes) up to
	// and including the minute of now, oldest first; minutes without
	// messages count 0.
	Messages(ctx context.Context, now time.Time, n int) ([]Minute, error)
}

// MinuteOf is the start of t's minute, in UTC.
func MinuteOf(t time.Time) time.Time { return t.UTC().Truncate(time.Minute) }
