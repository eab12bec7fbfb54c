// Package outbox is a durable queue of deliveries (webhook calls) written
// in the same step as what they report, and delivered at least once by a
// dispatcher: it claims due entries under a lease, and then acknowledges
// each, schedules it again later, or moves it to the dead letters. An
// entry whose lease lapses (its dispatcher died) is due again, so nothing
// claimed is lost; a receiver may see an entry twice and de-duplicates by
// its event id.
//
// outbox/redisoutbox keeps entries in Redis (shared by every process);
// outbox/sqliteoutbox in a SQLite file (one process: standalone);
// outbox/memoutbox in memory (one process, tests). One behavioural suite,
// internal/outboxtest, runs on each.
package outbox

import (
	"context"
	"errors"
	"time"
)

// Entry is one delivery: an event for one endpoint.
type Entry struct {
	// ID identifies the entry: unique in the outbox (the event id and the
	// endpoint name). Enqueueing an id that is already queued or dead
	// does nothing.
	ID string `json:"id"`
	// EventID is the receiver's de-duplication key (the same for every
	// endpoint of one event).
	EventID string `json:"event_id"`
	// Endpoint names the configured endpoint.
	Endpoint string `json:"endpoint"`
	// Event is the event's name (after_send, ...).
	Event string `json:"event"`
	// Payload is the body delivered.
	Payload []byte `json:"payload"`
	// Attempts counts the failed deliveries so far.
	Attempts int `json:"attempts"`
	// LastError is the last failure (dead letters and retries).
	LastError string `json:"last_error,omitempty"`
	// CreatedAt is when the entry was first enqueued.
	CreatedAt time.Time `json:"created_at"`
}

// ErrNotFound is returned by Replay for an id that is not a dead letter.
var ErrNotFound = errors.New("outbox: not found")

// MaxClaim bounds the entries one Claim returns.
const MaxClaim = 1000

// Outbox is implemented by memoutbox and redisoutbox. Every method is safe
// for concurrent use by many processes (redisoutbox) or goroutines.
type Outbox interface {
	// Enqueue adds entries, due at once. An id already queued (or dead)
	// is left as it is: a retried write enqueues nothing new.
	Enqueue(ctx context.Context, entries ...Entry) error
	// Claim returns up to max due entries (oldest due first, max at most
	// MaxClaim) and makes them not due for lease: the caller acknowledges,
	// retries or kills each before then, or it is due again.
	Claim(ctx context.Context, max int, lease time.Duration) ([]Entry, error)
	// Ack removes a delivered entry. An unknown id is not an error.
	Ack(ctx context.Context, id string) error
	// Retry counts one failed attempt, records lastErr and makes the
	// entry due at at.
	Retry(ctx context.Context, id string, at time.Time, lastErr string) error
	// Kill counts one failed attempt, records lastErr and moves the entry
	// to the dead letters.
	Kill(ctx context.Context, id string, lastErr string) error
	// DeadLetters lists up to limit dead entries (limit at most
	// MaxClaim), oldest killed first.
	DeadLetters(ctx context.Context, limit int) ([]Entry, error)
	// Replay moves a dead entry back to the queue, due at once, with its
	// attempts reset. ErrNotFound when id is not dead.
	Replay(ctx context.Context, id string) error
	// Pending counts the queued entries (due or not, claimed or not).
	Pending(ctx context.Context) (int64, error)
}
