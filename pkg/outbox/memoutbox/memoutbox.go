// Package memoutbox is an in-memory outbox.Outbox for one process
// (standalone without Redis, tests). It is lost with the process.
package memoutbox

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/outbox"
)

type item struct {
	e    outbox.Entry
	due  time.Time
	seq  uint64 // insertion order: ties of due
	dead time.Time
}

// Outbox is the in-memory outbox; the zero value is not usable: New.
type Outbox struct {
	mu    sync.Mutex
	now   func() time.Time
	queue map[string]*item
	dead  map[string]*item
	seq   uint64
}

// Options tune New; the zero value is fine.
type Options struct {
	Now func() time.Time // default time.Now
}

// New returns an empty outbox.
func New(o Options) *Outbox {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Outbox{now: o.Now, queue: map[string]*item{}, dead: map[string]*item{}}
}

var _ outbox.Outbox = (*Outbox)(nil)

func clone(e outbox.Entry) outbox.Entry {
	e.Payload = append([]byte(nil), e.Payload...)
	return e
}

// Enqueue adds entries not known yet.
func (o *Outbox) Enqueue(ctx context.Context, entries ...outbox.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	for _, e := range entries {
		if _, ok := o.queue[e.ID]; ok {
			continue
		}
		if _, ok := o.dead[e.ID]; ok {
			continue
		}
		e = clone(e)
		if e.CreatedAt.IsZero() {
			e.CreatedAt = now.UTC()
		}
		o.seq++
		o.queue[e.ID] = &item{e: e, due: now, seq: o.seq}
	}
	return nil
}

// Claim leases due entries.
func (o *Outbox) Claim(ctx context.Context, max int, lease time.Duration) ([]outbox.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max > outbox.MaxClaim {
		max = outbox.MaxClaim
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	var due []*item
	for _, it := range o.queue {
		if !it.due.After(now) {
			due = append(due, it)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		if !due[i].due.Equal(due[j].due) {
			return due[i].due.Before(due[j].due)
		}
		return due[i].seq < due[j].seq
	})
	if len(due) > max {
		due = due[:max]
	}
	out := make([]outbox.Entry, len(due))
	for i, it := range due {
		it.due = now.Add(lease)
		out[i] = clone(it.e)
	}
	return out, nil
}

// Ack removes an entry.
func (o *Outbox) Ack(ctx context.Context, id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.queue, id)
	return nil
}

// Retry reschedules an entry.
func (o *Outbox) Retry(ctx context.Context, id string, at time.Time, lastErr string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	it, ok := o.queue[id]
	if !ok {
		return nil
	}
	it.e.Attempts++
	it.e.LastError = lastErr
	it.due = at
	return nil
}

// Kill moves an entry to the dead letters.
func (o *Outbox) Kill(ctx context.Context, id string, lastErr string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	it, ok := o.queue[id]
	if !ok {
		return nil
	}
	delete(o.queue, id)
	it.e.Attempts++
	it.e.LastError = lastErr
	o.seq++
	it.seq, it.dead = o.seq, o.now()
	o.dead[id] = it
	return nil
}

// DeadLetters lists dead entries, oldest killed first.
func (o *Outbox) DeadLetters(ctx context.Context, limit int) ([]outbox.Entry, error) {
	if limit <= 0 || limit > outbox.MaxClaim {
		limit = outbox.MaxClaim
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	all := make([]*item, 0, len(o.dead))
	for _, it := range o.dead {
		all = append(all, it)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seq < all[j].seq })
	if len(all) > limit {
		all = all[:limit]
	}
	out := make([]outbox.Entry, len(all))
	for i, it := range all {
		out[i] = clone(it.e)
	}
	return out, nil
}

// Replay queues a dead entry again.
func (o *Outbox) Replay(ctx context.Context, id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	it, ok := o.dead[id]
	if !ok {
		return outbox.ErrNotFound
	}
	delete(o.dead, id)
	it.e.Attempts, it.e.LastError = 0, ""
	o.seq++
	it.seq, it.due = o.seq, o.now()
	o.queue[id] = it
	return nil
}

// Pending counts the queued entries.
func (o *Outbox) Pending(ctx context.Context) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return int64(len(o.queue)), nil
}
