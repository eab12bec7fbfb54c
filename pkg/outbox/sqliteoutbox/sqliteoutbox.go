// Package sqliteoutbox is an outbox.Outbox in a SQLite file (the pure-Go
// driver modernc.org/sqlite): the standalone server's, so webhook
// deliveries still queued survive a restart as they do in Redis. One
// process uses a file; its writes go through one connection.
package sqliteoutbox

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/im-websocket-go/im-websocket-go/pkg/outbox"
)

// Options tune Open; the zero value is fine.
type Options struct {
	Now func() time.Time // default time.Now
	// BusyTimeout is how long a statement waits for a lock (default 5s).
	BusyTimeout time.Duration
}

// Outbox is the SQLite outbox; Open it, Close it.
type Outbox struct {
	db  *sql.DB
	now func() time.Time
}

var _ outbox.Outbox = (*Outbox)(nil)

// schema: due and the times are unix nanoseconds; ord is the insertion
// (and, for dead letters, the kill) order, which breaks ties of due.
const schema = `
CREATE TABLE IF NOT EXISTS outbox (
	id         TEXT PRIMARY KEY,
	event_id   TEXT NOT NULL,
	endpoint   TEXT NOT NULL,
	event      TEXT NOT NULL,
	payload    BLOB NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	due        INTEGER NOT NULL,
	dead       INTEGER NOT NULL DEFAULT 0,
	ord        INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (dead, due, ord);`

// Open opens (creating it if needed) the outbox in the file at path.
func Open(ctx context.Context, path string, o Options) (*Outbox, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqliteoutbox: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // one writer: a claim's select and update are one step
	if _, err := db.ExecContext(ctx, schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqliteoutbox: schema of %s: %w", path, err)
	}
	return &Outbox{db: db, now: o.Now}, nil
}

// Close closes the file.
func (o *Outbox) Close() error { return o.db.Close() }

func nanos(t time.Time) int64 { return t.UnixNano() }

// Enqueue adds the entries not known yet (queued or dead).
func (o *Outbox) Enqueue(ctx context.Context, entries ...outbox.Entry) error {
	if len(entries) == 0 {
		return ctx.Err()
	}
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqliteoutbox: enqueue: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	now := o.now()
	for _, e := range entries {
		created := e.CreatedAt
		if created.IsZero() {
			created = now
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO outbox
			(id, event_id, endpoint, event, payload, attempts, last_error, created_at, due, ord)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(ord), 0) + 1 FROM outbox))`,
			e.ID, e.EventID, e.Endpoint, e.Event, e.Payload, e.Attempts, e.LastError,
			nanos(created), nanos(now)); err != nil {
			return fmt.Errorf("sqliteoutbox: enqueue %s: %w", e.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqliteoutbox: enqueue: %w", err)
	}
	return nil
}

const columns = `id, event_id, endpoint, event, payload, attempts, last_error, created_at`

func scan(rows *sql.Rows) ([]outbox.Entry, error) {
	defer rows.Close()
	var out []outbox.Entry
	for rows.Next() {
		var e outbox.Entry
		var created int64
		if err := rows.Scan(&e.ID, &e.EventID, &e.Endpoint, &e.Event, &e.Payload, &e.Attempts, &e.LastError, &created); err != nil {
			return nil, err
		}
		e.CreatedAt = time.Unix(0, created).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Claim leases up to max due entries, oldest due first.
func (o *Outbox) Claim(ctx context.Context, max int, lease time.Duration) ([]outbox.Entry, error) {
	if max <= 0 {
		return nil, ctx.Err()
	}
	max = min(max, outbox.MaxClaim)
	tx, err := o.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqliteoutbox: claim: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	now := o.now()
	rows, err := tx.QueryContext(ctx, `SELECT `+columns+` FROM outbox
		WHERE dead = 0 AND due <= ? ORDER BY due, ord LIMIT ?`, nanos(now), max)
	if err != nil {
		return nil, fmt.Errorf("sqliteoutbox: claim: %w", err)
	}
	out, err := scan(rows)
	if err != nil {
		return nil, fmt.Errorf("sqliteoutbox: claim: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	args := []any{nanos(now.Add(lease))}
	for _, e := range out {
		args = append(args, e.ID)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET due = ? WHERE id IN (?`+
		strings.Repeat(", ?", len(out)-1)+`)`, args...); err != nil {
		return nil, fmt.Errorf("sqliteoutbox: claim: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqliteoutbox: claim: %w", err)
	}
	return out, nil
}

// Ack removes a delivered entry.
func (o *Outbox) Ack(ctx context.Context, id string) error {
	if _, err := o.db.ExecContext(ctx, `DELETE FROM outbox WHERE id = ? AND dead = 0`, id); err != nil {
		return fmt.Errorf("sqliteoutbox: ack %s: %w", id, err)
	}
	return nil
}

// Retry counts a failed attempt and makes the entry due at at.
func (o *Outbox) Retry(ctx context.Context, id string, at time.Time, lastErr string) error {
	if _, err := o.db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, due = ?
		WHERE id = ? AND dead = 0`, lastErr, nanos(at), id); err != nil {
		return fmt.Errorf("sqliteoutbox: retry %s: %w", id, err)
	}
	return nil
}

// Kill counts a failed attempt and moves the entry to the dead letters.
func (o *Outbox) Kill(ctx context.Context, id string, lastErr string) error {
	if _, err := o.db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, dead = 1,
		ord = (SELECT MAX(ord) + 1 FROM outbox) WHERE id = ? AND dead = 0`, lastErr, id); err != nil {
		return fmt.Errorf("sqliteoutbox: kill %s: %w", id, err)
	}
	return nil
}

// DeadLetters lists dead entries, oldest killed first.
func (o *Outbox) DeadLetters(ctx context.Context, limit int) ([]outbox.Entry, error) {
	if limit <= 0 || limit > outbox.MaxClaim {
		limit = outbox.MaxClaim
	}
	rows, err := o.db.QueryContext(ctx, `SELECT `+columns+` FROM outbox WHERE dead = 1 ORDER BY ord LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqliteoutbox: dead letters: %w", err)
	}
	out, err := scan(rows)
	if err != nil {
		return nil, fmt.Errorf("sqliteoutbox: dead letters: %w", err)
	}
	return out, nil
}

// Replay queues a dead entry again, due at once, its attempts reset.
func (o *Outbox) Replay(ctx context.Context, id string) error {
	res, err := o.db.ExecContext(ctx, `UPDATE outbox SET dead = 0, attempts = 0, last_error = '', due = ?,
		ord = (SELECT MAX(ord) + 1 FROM outbox) WHERE id = ? AND dead = 1`, nanos(o.now()), id)
	if err != nil {
		return fmt.Errorf("sqliteoutbox: replay %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqliteoutbox: replay %s: %w", id, err)
	} else if n == 0 {
		return outbox.ErrNotFound
	}
	return nil
}

// Pending counts the queued entries.
func (o *Outbox) Pending(ctx context.Context) (int64, error) {
	var n int64
	if err := o.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE dead = 0`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqliteoutbox: pending: %w", err)
	}
	return n, nil
}
