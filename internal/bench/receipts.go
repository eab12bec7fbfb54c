package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// ScenarioReceipts is the read-receipt storm: a group of N members (the
// fanout seeding), one member sending messages at -rate, every other one
// marking the room read (a read frame up to the newest seq it received)
// at -read-rate in total, spread over the members. It measures the read
// frames sent and refused, the read_counts events the sender receives
// (their number and the shortest gap between two: the server promises at
// most one a second per room), and how long after a message was sent the
// sender's read_counts first showed it read by every member.
const ScenarioReceipts = "receipts"

// ReceiptsResult is the storm's part of a Result.
type ReceiptsResult struct {
	ReadRate    float64 `json:"read_rate"`    // offered read frames per second, all members
	ReadsSent   int64   `json:"reads_sent"`   // read frames written
	ReadErrors  int64   `json:"read_errors"`  // error frames answering them
	Events      int64   `json:"events"`       // read_counts events at the sender
	MinGapMS    float64 `json:"min_gap_ms"`   // shortest time between two of them
	Messages    int     `json:"messages"`     // acked messages of the sender
	FullyRead   int     `json:"fully_read"`   // of those, shown read by every member in an event
	OverCounted int64   `json:"over_counted"` // counts above the members who can read (must be 0)
	// FullReadLatency: from a message's intended send time to the first
	// read_counts event showing every other member read it.
	FullReadLatency Percentiles `json:"full_read_latency"`
}

// receipts is the storm's live state.
type receipts struct {
	mu      sync.Mutex
	sentAt  map[int64]int64 // seq -> intended send time (ns), from the sender's acks
	full    map[int64]bool
	last    time.Time
	minGap  time.Duration
	lat     Hist
	events  int64
	over    int64
	reads   atomic.Int64
	readErr atomic.Int64
}

func newReceipts() *receipts {
	return &receipts{sentAt: map[int64]int64{}, full: map[int64]bool{}}
}

// onAck notes the send time of the sender's acked message seq.
func (s *receipts) onAck(seq, at int64) {
	s.mu.Lock()
	s.sentAt[seq] = at
	s.mu.Unlock()
}

// onEvent takes a read_counts event the sender received; readers is the
// number of members other than the sender.
func (s *receipts) onEvent(raw []byte, readers int64) {
	now := time.Now()
	var f struct {
		Event string `json:"event"`
		Data  struct {
			Counts []struct {
				Seq  int64 `json:"seq"`
				Read int64 `json:"read"`
			} `json:"counts"`
		} `json:"data"`
	}
	if json.Unmarshal(raw, &f) != nil || f.Event != protocol.EventReadCounts {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events++
	if !s.last.IsZero() {
		if gap := now.Sub(s.last); s.minGap == 0 || gap < s.minGap {
			s.minGap = gap
		}
	}
	s.last = now
	for _, c := range f.Data.Counts {
		if c.Read > readers {
			s.over++
		}
		at, ok := s.sentAt[c.Seq]
		if ok && c.Read == readers && !s.full[c.Seq] {
			s.full[c.Seq] = true
			s.lat.Record(now.UnixNano() - at)
		}
	}
}

// readStorm sends read frames at rate (all members together) until end,
// member after member, each up to the newest seq it received.
func (r *runner) readStorm(ctx context.Context, members []*Conn, rate float64, start, end time.Time) {
	if len(members) == 0 || rate <= 0 {
		return
	}
	interval := time.Duration(float64(time.Second) / rate)
	for k := 0; ; k++ {
		at := start.Add(time.Duration(k) * interval)
		if !at.Before(end) || r.stop.Load() || ctx.Err() != nil {
			return
		}
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		r.sendRead(members[k%len(members)])
	}
}

// receiptsResult fills the storm's result at the end of the run.
func (r *runner) receiptsResult() {
	s := r.rc
	s.mu.Lock()
	defer s.mu.Unlock()
	r.res.Receipts = &ReceiptsResult{ReadRate: r.cfg.ReadRate, ReadsSent: s.reads.Load(), ReadErrors: s.readErr.Load(),
		Events: s.events, MinGapMS: float64(s.minGap.Microseconds()) / 1e3, Messages: len(s.sentAt),
		FullyRead: len(s.full), OverCounted: s.over, FullReadLatency: s.lat.Percentiles()}
}

// awaitFullRead waits, at most d, until the sender's read_counts showed
// every message it sent read by all. Meanwhile each member sends its read
// mark again every half second, as an app does after a read answered
// `unavailable` (the store busy): the storm is over, and a refused last
// read would otherwise leave the last messages unread for good. A read
// mark only ever rises, so a repeated one changes nothing.
func (r *runner) awaitFullRead(ctx context.Context, members []*Conn, d time.Duration) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	end := time.After(d)
	for tick := 1; ; tick++ {
		if tick%10 == 0 {
			r.readAgain(members)
		}
		r.rc.mu.Lock()
		done := len(r.rc.full) >= len(r.rc.sentAt)
		r.rc.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-end:
			return
		case <-t.C:
		}
	}
}

// readAgain sends each member's read mark again.
func (r *runner) readAgain(members []*Conn) {
	for _, c := range members {
		r.sendRead(c)
	}
}

// sendRead sends c's read mark up to the newest seq it received, if any.
func (r *runner) sendRead(c *Conn) {
	if !c.alive.Load() || c.room == nil {
		return
	}
	c.mu.Lock()
	seq := c.maxSeen
	c.mu.Unlock()
	if seq > 0 && c.sendText(fmt.Appendf(nil, `{"type":"read","room_id":%q,"seq":%d}`, c.room.ID, seq)) == nil {
		r.rc.reads.Add(1)
	}
}
