// Package postgres implements store.Store on PostgreSQL with
// github.com/jackc/pgx/v5 and its connection pool, pgxpool.
//
// # What is promised
//
// A method that returns nil has committed its write: every write is one
// statement in autocommit, or one transaction when it touches several rows
// (RevokeFamily); InsertMessage's message shares its statement, and so its
// commit, with the other messages queued meanwhile (group commit:
// batch.go). PostgreSQL acknowledges a commit only once its WAL
// record is flushed to disk with the server's default synchronous_commit
// (on). A committed message therefore survives a crash of the server or a
// power loss; with synchronous replication configured on the server it is
// also on a standby. The store never lowers synchronous_commit. A write
// whose answer is lost (the context ends, the connection breaks) fails with
// store.ErrUnavailable and may or may not have committed: callers retry
// with the same keys, and the unique constraints make the retry safe
// (InsertMessage's (room, sender, client_msg_id), for instance).
//
// # Semantics
//
// The Store behaves like the reference implementation, store/mongo: every
// "create once" rule is a PRIMARY KEY or UNIQUE constraint, reported as
// store.ErrDuplicate, so of N racing creators exactly one wins; SetReadSeq
// is one UPDATE with GREATEST, exact under concurrency. Times are stored as
// timestamptz; the Create and Insert methods normalise the times of the
// value they are given in place (UTC, truncated to milliseconds) so that it
// compares equal to what a read returns, and reads return times in UTC.
// Errors are mapped in one place (errors.go): store.ErrNotFound,
// store.ErrDuplicate, store.ErrUnavailable for anything that means "the
// database cannot serve this now" (connection loss, pool exhausted until
// the deadline, statement timeout, server shutting down, out of
// resources), and context.Canceled stays a cancellation.
//
// # Schema
//
// The schema is created and upgraded at Open by the numbered scripts in
// migrations/, tracked in the table schema_version, in one transaction
// under a PostgreSQL advisory lock, so that several servers starting at
// once against one database apply each script once. A database written by
// a newer build is refused (*SchemaVersionError) rather than misread. The
// schema lives in the first schema of the connection's search_path, which
// a URL can set (…?search_path=im).
//
// # Scale path
//
// Every statement runs on an index (TestQueryPlans checks it on a seeded
// database). The big tables are keyed for Citus: messages and members by
// room_id, friendships and friend requests by a user id, tokens by their
// hash; every primary key and unique constraint of those tables leads with
// that column, so each can be distributed by it (create_distributed_table)
// and every hot query (a room's history, a member's read mark) runs on one
// shard. migrations/0001_init.sql lists the distribution column of each
// table (0002 and 0003 continue the list) and the few global unique rules (account, email, group number,
// pair key, a sender's client message id) that a sharded deployment moves
// into lookup tables.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Query limits of MessagesAfter and MessagesBefore, as in store/mongo.
const (
	DefaultLimit = 50   // used when limit <= 0
	MaxLimit     = 1000 // larger limits are lowered to this
)

// Options tunes a Store. The zero value is usable: every zero field takes
// the default named in its comment.
type Options struct {
	// MaxConns is the size of the connection pool. Default 16. An
	// operation that cannot get a connection before its context ends
	// fails with store.ErrUnavailable.
	MaxConns int32
	// StatementTimeout is the server-side statement_timeout of every
	// connection: a statement running longer is cancelled by the server
	// and fails with store.ErrUnavailable. Default 5s.
	StatementTimeout time.Duration
	// OpTimeout bounds each operation whose context has no deadline.
	// Default 10s.
	OpTimeout time.Duration
	// ConnectTimeout bounds opening one connection, unless the URL sets
	// connect_timeout. Default 5s.
	ConnectTimeout time.Duration
	// InsertCommitters is the number of goroutines that write the queued
	// messages of InsertMessage, a batch at a time, each on a connection
	// of the pool (group commit: batch.go). Default 1, the best measured
	// with the database on the gateway's 2 CPUs (BENCHMARKS.md): every
	// commit costs the server CPU, and one committer makes the fewest and
	// largest batches. More may pay with a database server of its own and
	// more cores. At most MaxConns.
	InsertCommitters int
}

func (o Options) withDefaults() Options {
	if o.MaxConns <= 0 {
		o.MaxConns = 16
	}
	if o.StatementTimeout <= 0 {
		o.StatementTimeout = 5 * time.Second
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 10 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.InsertCommitters <= 0 {
		o.InsertCommitters = 1
	}
	o.InsertCommitters = min(o.InsertCommitters, int(o.MaxConns))
	return o
}

// Store is the PostgreSQL implementation of store.Store. It is safe for
// concurrent use.
type Store struct {
	pool      *pgxpool.Pool
	target    string // user@host:port/database, for messages (no password)
	opTimeout time.Duration
	commit    committers // group commit of InsertMessage (batch.go)

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string, as pgx accepts), brings its schema up to
// date and returns a Store on it. It fails with a *SchemaVersionError
// when the database was written by a newer build, and with an error
// wrapping store.ErrUnavailable when the server cannot be reached before
// ctx ends. ctx bounds the whole of Open, including the wait for another
// process's migration (OpTimeout does not apply). Close releases the pool.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	return open(ctx, url, opts, migrations)
}

// open is Open with the list of migrations to apply.
func open(ctx context.Context, url string, opts Options, list func() ([]migration, error)) (*Store, error) {
	opts = opts.withDefaults()
	cfg, err := poolConfig(url, opts)
	if err != nil {
		return nil, err
	}
	s := &Store{target: target(cfg.ConnConfig), opTimeout: opts.OpTimeout}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", s.target, err)
	}
	ok := false
	defer func() {
		if !ok {
			s.closed.Store(true)
			s.pool.Close()
		}
	}()
	if err := s.pool.Ping(ctx); err != nil {
		return nil, s.openErr(ctx, err)
	}
	if err := migrate(ctx, s.pool, list); err != nil {
		if _, ok := errors.AsType[*SchemaVersionError](err); ok {
			return nil, err
		}
		return nil, s.openErr(ctx, err)
	}
	s.startCommitters(opts.InsertCommitters)
	ok = true
	return s, nil
}

// poolConfig parses url and applies opts to it.
func poolConfig(url string, opts Options) (*pgxpool.Config, error) {
	if url == "" {
		return nil, errors.New("postgres: open: empty URL")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn's error redacts the password.
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	}
	rp := cfg.ConnConfig.RuntimeParams
	rp["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	if rp["application_name"] == "" {
		rp["application_name"] = "im-websocket-go"
	}
	return cfg, nil
}

// target names the database of cfg in messages, without the password.
func target(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// Ping checks that a connection of the pool answers a query.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var one int
	return s.mapErr(ctx, "ping", s.pool.QueryRow(ctx, qPing).Scan(&one))
}

// Close waits for the operations in progress to release their connections
// (or for ctx to end) and closes the pool. The message batches being
// written finish; messages still queued for a batch fail with
// store.ErrUnavailable. Closing again returns the first result; any use
// after Close fails with store.ErrUnavailable.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		ctx, cancel := s.opCtx(ctx)
		defer cancel()
		done := make(chan struct{})
		go func() {
			s.stopCommitters()
			s.pool.Close()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			// The pool goes on closing in the background.
			s.closeErr = fmt.Errorf("postgres: close %s: operations still running: %w", s.target, ctx.Err())
		}
	})
	return s.closeErr
}

// opCtx applies the operation timeout to a context without a deadline.
func (s *Store) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.opTimeout)
}

// exec runs a statement and returns the number of rows it changed.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var tag pgconn.CommandTag
	err := retryConflicts(ctx, func() (err error) {
		tag, err = s.pool.Exec(ctx, query, args...)
		return err
	})
	if err != nil {
		return 0, s.mapErr(ctx, op, err)
	}
	return tag.RowsAffected(), nil
}

// conflictTries bounds how often a statement is run when PostgreSQL rolls
// it back to break a deadlock or a serialization conflict.
const conflictTries = 3

// retryConflicts runs f, a single autocommit statement, again when
// PostgreSQL rolled it back to break a deadlock or a serialization
// conflict: nothing of it was applied, so running it again is safe.
func retryConflicts(ctx context.Context, f func() error) error {
	var err error
	for range conflictTries {
		if err = f(); err == nil || !conflict(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// execOne is exec for a statement that must change one row:
// store.ErrNotFound when it changed none.
func (s *Store) execOne(ctx context.Context, op, query string, args ...any) error {
	n, err := s.exec(ctx, op, query, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// inTx runs f in a transaction and commits it, or rolls it back if f
// fails. f gets the context to run its statements with.
func (s *Store) inTx(ctx context.Context, op string, f func(ctx context.Context, tx pgx.Tx) error) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return f(ctx, tx) })
	return s.mapErr(ctx, op, err)
}

// queryOne reads one row of query with scan; store.ErrNotFound when there
// is none.
func queryOne[T any](ctx context.Context, s *Store, op string, scan func(pgx.Row) (T, error), query string, args ...any) (*T, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	v, err := scan(s.pool.QueryRow(ctx, query, args...))
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return &v, nil
}

// queryAll reads every row of query with scan.
func queryAll[T any](ctx context.Context, s *Store, op string, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return out, nil
}

// scanInt reads a single integer, such as a count.
func scanInt(r pgx.Row) (int64, error) {
	var n int64
	err := r.Scan(&n)
	return n, err
}

// dbTime returns t as stored: UTC, truncated to milliseconds.
func dbTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Millisecond)
}

// createdTime is dbTime, with the current time for a zero t.
func createdTime(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return dbTime(t)
}

// optTime is dbTime, keeping a zero t zero.
func optTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return dbTime(t)
}

// nullIfZero stores a zero optional time as NULL.
func nullIfZero(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// nullIfEmpty stores an empty optional string as NULL, so that it never
// collides in a UNIQUE constraint.
func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func errNil(op, what string) error {
	return fmt.Errorf("postgres: %s: nil %s", op, what)
}

// pgErr is the server's error in err, if any.
func pgErr(err error) (*pgconn.PgError, bool) {
	return errors.AsType[*pgconn.PgError](err)
}
