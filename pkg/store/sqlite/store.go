// Package sqlite implements store.Store on an embedded SQLite database with
// the pure-Go driver modernc.org/sqlite and database/sql.
//
// # Connections
//
// The database runs in WAL mode. A Store holds one writer connection (a
// *sql.DB limited to a single connection, whose transactions begin with
// BEGIN IMMEDIATE) and a separate pool of read-only connections
// (PRAGMA query_only). Writes are serialised in the process, so they never
// fail with SQLITE_BUSY because of each other, and readers never block
// the writer nor wait for it. Every pragma is set in the DSN, so each
// pooled connection gets it.
//
// # Durability
//
// With WAL and synchronous=FULL (the default, Options.Synchronous) a
// committed transaction survives both a process kill and a power loss: the
// WAL is synced on every commit. With synchronous=NORMAL commits are
// faster, and a committed transaction still survives a crash of the
// process (kill -9), but the last transactions before a power loss or an
// operating system crash may roll back; the database stays consistent
// either way.
//
// # Semantics
//
// The Store behaves like the reference implementation, store/mongo: every
// "create once" rule is a PRIMARY KEY or UNIQUE constraint, reported as
// store.ErrDuplicate; times are stored as UTC unix milliseconds, and the
// Create and Insert methods normalise the times of the value they are given
// in place (UTC, truncated to milliseconds) so that it compares equal to
// what a read returns.
//
// # Schema
//
// The schema is created and upgraded at Open by the numbered scripts in
// migrations/, tracked with PRAGMA user_version. A database written by a
// newer build is refused rather than misread.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Query limits of MessagesAfter and MessagesBefore, as in store/mongo.
const (
	DefaultLimit = 50   // used when limit <= 0
	MaxLimit     = 1000 // larger limits are lowered to this
)

// driverName is the database/sql name modernc.org/sqlite registers.
const driverName = "sqlite"

// Options tunes a Store. The zero value is usable: every zero field takes
// the default named in its comment.
type Options struct {
	// Synchronous is the PRAGMA synchronous of the writer: "FULL"
	// (default), "NORMAL", "EXTRA" or "OFF". See the package
	// documentation for what NORMAL risks.
	Synchronous string
	// BusyTimeout is how long a connection waits for a lock held by
	// another process before failing with store.ErrUnavailable.
	// Default 5s.
	BusyTimeout time.Duration
	// Readers is the size of the read-only connection pool. Default 4.
	Readers int
	// OpTimeout bounds each operation whose context has no deadline.
	// Default 10s.
	OpTimeout time.Duration
	// SkipQuickCheck skips the PRAGMA quick_check that Open runs to
	// detect a corrupt file. The check reads the whole database, which
	// can take a while on a large one.
	SkipQuickCheck bool
}

func (o Options) withDefaults() (Options, error) {
	if o.Synchronous == "" {
		o.Synchronous = "FULL"
	}
	o.Synchronous = strings.ToUpper(o.Synchronous)
	switch o.Synchronous {
	case "OFF", "NORMAL", "FULL", "EXTRA":
	default:
		return o, fmt.Errorf("sqlite: open: unknown synchronous mode %q (want OFF, NORMAL, FULL or EXTRA)", o.Synchronous)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.Readers <= 0 {
		o.Readers = 4
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 10 * time.Second
	}
	return o, nil
}

// Store is the SQLite implementation of store.Store. It is safe for
// concurrent use.
type Store struct {
	path      string
	backupDSN string  // of the connection Backup opens
	writer    *sql.DB // one connection: every write goes through it
	reader    *sql.DB // read-only pool: every read goes through it
	opTimeout time.Duration
	stmts     statements

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	// group commit of messages (batch.go)
	inserts       chan *insertReq
	quit          chan struct{}
	committerDone chan struct{}
}

var _ store.Store = (*Store)(nil)

// statements are the hot paths, prepared at Open on the *sql.DB that runs
// them.
type statements struct {
	insertMessage  *sql.Stmt // writer
	setReadSeq     *sql.Stmt // writer
	messagesAfter  *sql.Stmt // reader
	messagesBefore *sql.Stmt // reader
	lastMessage    *sql.Stmt // reader
	member         *sql.Stmt // reader
	membershipsOf  *sql.Stmt // reader
	countAfter     *sql.Stmt // reader
	messagesAt     *sql.Stmt // reader
	reactionCounts *sql.Stmt // reader
	hiddenSeqs     *sql.Stmt // reader
}

func (st *statements) all() []*sql.Stmt {
	return []*sql.Stmt{st.insertMessage, st.setReadSeq, st.messagesAfter, st.messagesBefore,
		st.lastMessage, st.member, st.membershipsOf, st.countAfter, st.messagesAt, st.reactionCounts,
		st.hiddenSeqs}
}

// Open opens (creating it if needed) the SQLite database at path, checks
// it, brings its schema up to date and returns a Store on it. It fails
// with a descriptive error when the directory of path is missing or not
// writable, when the file is not a database or is corrupt, and when the
// database was written by a newer build (its schema version is higher than
// this build knows). ctx bounds the whole of Open, including the
// quick_check of the file (see Options.SkipQuickCheck). Close releases it.
//
// Several processes may open one file at once (a server and a backup): a
// lock SQLite reports without waiting (converting a new file to WAL,
// recovering its WAL index) is retried, backing off, for up to
// Options.BusyTimeout.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(opts.BusyTimeout)
	for wait := 5 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		s, err := open(ctx, path, opts)
		if err == nil || !isBusy(err) || time.Now().Add(wait).After(deadline) {
			return s, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
	}
}

// open is one attempt of Open.
func open(ctx context.Context, path string, opts Options) (*Store, error) {
	abs, err := checkPath(path)
	if err != nil {
		return nil, err
	}
	// No OpTimeout here: quick_check reads the whole file, which takes as
	// long as it takes on a large database; ctx bounds Open.
	s := &Store{path: abs, backupDSN: dsn(abs, opts, dsnBackup), opTimeout: opts.OpTimeout}
	ok := false
	defer func() {
		if !ok {
			s.closeAll()
		}
	}()

	s.writer, err = sql.Open(driverName, dsn(abs, opts, dsnWriter))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxLifetime(0)
	s.writer.SetConnMaxIdleTime(0)
	if err := s.writer.PingContext(ctx); err != nil {
		return nil, openErr(abs, err)
	}
	if !opts.SkipQuickCheck {
		if err := quickCheck(ctx, s.writer); err != nil {
			return nil, openErr(abs, err)
		}
	}
	if err := migrate(ctx, s.writer); err != nil {
		var sv *SchemaVersionError
		if errors.As(err, &sv) {
			return nil, err
		}
		return nil, openErr(abs, err)
	}

	s.reader, err = sql.Open(driverName, dsn(abs, opts, dsnReader))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	s.reader.SetMaxOpenConns(opts.Readers)
	s.reader.SetMaxIdleConns(opts.Readers)
	if err := s.reader.PingContext(ctx); err != nil {
		return nil, openErr(abs, err)
	}
	if err := s.prepare(ctx); err != nil {
		return nil, openErr(abs, err)
	}
	s.startCommitter()
	ok = true
	return s, nil
}

// checkPath returns path made absolute after checking that its directory
// exists and is writable: WAL mode creates path-wal and path-shm there.
func checkPath(path string) (string, error) {
	if path == "" {
		return "", errors.New("sqlite: open: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	dir := filepath.Dir(abs)
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("sqlite: open %s: directory %s does not exist: %w", abs, dir, err)
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: open %s: directory %s is not usable: %w", abs, dir, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("sqlite: open %s: %s is not a directory", abs, dir)
	}
	if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
		return "", fmt.Errorf("sqlite: open %s: is a directory, not a database file", abs)
	}
	probe, err := os.CreateTemp(dir, ".sqlite-probe-*")
	if err != nil {
		return "", fmt.Errorf("sqlite: open %s: directory %s is not writable (the database and its -wal and -shm files live there): %w", abs, dir, err)
	}
	_ = probe.Close()
	_ = os.Remove(probe.Name())
	return abs, nil
}

// Kinds of connection, for dsn.
const (
	dsnWriter = iota // the one writer
	dsnReader        // the read-only pool
	dsnBackup        // the connection of a Backup
)

// dsn returns the modernc.org/sqlite DSN of a kind of connection. Pragmas
// are given as _pragma parameters so that every new connection of a pool
// runs them; busy_timeout comes first so that the others wait for a lock
// instead of failing.
func dsn(path string, opts Options, kind int) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	switch kind {
	case dsnWriter:
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous("+opts.Synchronous+")")
		q.Add("_pragma", "foreign_keys(on)")
		q.Add("_txlock", "immediate")
	case dsnReader:
		q.Add("_pragma", "query_only(1)")
		q.Add("_pragma", "foreign_keys(on)")
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	return u.String()
}

// quickCheck runs PRAGMA quick_check and reports the problems it finds.
func quickCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
		}
		return fmt.Errorf("database is corrupt: quick_check: %s", strings.Join(problems, "; "))
	}
	return nil
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		dst   **sql.Stmt
		db    *sql.DB
		query string
	}{
		{&s.stmts.insertMessage, s.writer, qInsertMessage},
		{&s.stmts.setReadSeq, s.writer, qSetReadSeq},
		{&s.stmts.messagesAfter, s.reader, qMessagesAfter},
		{&s.stmts.messagesBefore, s.reader, qMessagesBefore},
		{&s.stmts.lastMessage, s.reader, qLastMessage},
		{&s.stmts.member, s.reader, qMember},
		{&s.stmts.membershipsOf, s.reader, qMembershipsOf},
		{&s.stmts.countAfter, s.reader, qCountAfter},
		{&s.stmts.messagesAt, s.reader, qMessagesAt},
		{&s.stmts.reactionCounts, s.reader, qReactionCounts},
		{&s.stmts.hiddenSeqs, s.reader, qHiddenSeqs},
	} {
		st, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", p.query, err)
		}
		*p.dst = st
	}
	return nil
}

// Ping checks that both the writer and a reader connection are usable.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if err := s.writer.PingContext(ctx); err != nil {
		return s.mapErr(ctx, "ping", err)
	}
	return s.mapErr(ctx, "ping", s.reader.PingContext(ctx))
}

// Close checkpoints the WAL into the database file (so that the file is
// complete on its own), closes the prepared statements and both
// connection pools. Closing again returns the first result; any use after
// Close fails with store.ErrUnavailable.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		// From now on every failure is store.ErrUnavailable, also that of
		// an operation still running.
		s.closed.Store(true)
		s.stopCommitter()
		ctx, cancel := s.opCtx(ctx)
		defer cancel()
		var errs []error
		// Readers first: an open read transaction would keep the
		// checkpoint from truncating the WAL.
		for _, st := range s.stmts.all() {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
		errs = append(errs, s.reader.Close())
		if _, err := s.writer.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			errs = append(errs, fmt.Errorf("checkpoint: %w", err))
		}
		errs = append(errs, s.writer.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// closeAll releases whatever a failed Open had opened.
func (s *Store) closeAll() {
	s.closed.Store(true)
	for _, st := range s.stmts.all() {
		if st != nil {
			_ = st.Close()
		}
	}
	if s.reader != nil {
		_ = s.reader.Close()
	}
	if s.writer != nil {
		_ = s.writer.Close()
	}
}

// Backup writes a consistent copy of the database to dst with VACUUM INTO,
// while the Store stays usable: the copy is a snapshot of one read
// transaction, so writes go on during it and are not in it. dst must not
// exist. The copy is a compact, self-contained database file (no WAL) that
// Open accepts.
func (s *Store) Backup(ctx context.Context, dst string) error {
	const op = "backup"
	if dst == "" {
		return errors.New("sqlite: backup: empty destination path")
	}
	abs, err := filepath.Abs(dst)
	if err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", dst, err)
	}
	switch _, err := os.Lstat(abs); {
	case err == nil:
		return fmt.Errorf("sqlite: backup to %s: destination already exists", abs)
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("sqlite: backup to %s: %w", abs, err)
	}
	if fi, err := os.Stat(filepath.Dir(abs)); err != nil || !fi.IsDir() {
		return fmt.Errorf("sqlite: backup to %s: directory %s does not exist", abs, filepath.Dir(abs))
	}
	if s.closed.Load() {
		return fmt.Errorf("sqlite: %s to %s: %w: store is closed", op, abs, store.ErrUnavailable)
	}
	// A connection of its own, outside both pools: VACUUM INTO only reads
	// the source database, in one read transaction, so the writer is not
	// held up; but it writes a file, which query_only forbids on the
	// readers.
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	db, err := sql.Open(driverName, s.backupDSN)
	if err != nil {
		return fmt.Errorf("sqlite: %s to %s: %w", op, abs, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, qBackup, abs); err != nil {
		return s.mapErr(ctx, op+" to "+abs, err)
	}
	return db.Close()
}

// opCtx applies the operation timeout to a context without a deadline.
func (s *Store) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return opCtx(ctx, s.opTimeout)
}

func opCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// inTx runs f in a write transaction (BEGIN IMMEDIATE) and commits it, or
// rolls it back if f fails.
func (s *Store) inTx(ctx context.Context, op string, f func(tx *sql.Tx) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return s.mapErr(ctx, op, err)
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return s.mapErr(ctx, op, err)
	}
	return s.mapErr(ctx, op, tx.Commit())
}

// exec runs a write statement on the writer and returns the number of rows
// it changed.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return s.result(ctx, op)(s.writer.ExecContext(ctx, query, args...))
}

// execStmt is exec with a prepared statement.
func (s *Store) execStmt(ctx context.Context, op string, st *sql.Stmt, args ...any) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return s.result(ctx, op)(st.ExecContext(ctx, args...))
}

func (s *Store) result(ctx context.Context, op string) func(sql.Result, error) (int64, error) {
	return func(res sql.Result, err error) (int64, error) {
		if err != nil {
			return 0, s.mapErr(ctx, op, err)
		}
		n, err := res.RowsAffected()
		return n, s.mapErr(ctx, op, err)
	}
}

// execOne is exec for a statement that must change one row:
// store.ErrNotFound when it changed none.
func (s *Store) execOne(ctx context.Context, op, query string, args ...any) error {
	n, err := s.exec(ctx, op, query, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// queryOne reads one row of query on the reader with scan;
// store.ErrNotFound when there is none.
func queryOne[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), query string, args ...any) (*T, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return rowOne(ctx, s, op, scan, s.reader.QueryRowContext(ctx, query, args...))
}

// queryOneStmt is queryOne with a prepared statement.
func queryOneStmt[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), st *sql.Stmt, args ...any) (*T, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return rowOne(ctx, s, op, scan, st.QueryRowContext(ctx, args...))
}

func rowOne[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), row *sql.Row) (*T, error) {
	v, err := scan(row)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return &v, nil
}

// queryAll reads every row of query on the reader with scan.
func queryAll[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	rows, err := s.reader.QueryContext(ctx, query, args...)
	return rowsAll(ctx, s, op, scan, rows, err)
}

// queryAllStmt is queryAll with a prepared statement.
func queryAllStmt[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), st *sql.Stmt, args ...any) ([]T, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	rows, err := st.QueryContext(ctx, args...)
	return rowsAll(ctx, s, op, scan, rows, err)
}

func rowsAll[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), rows *sql.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.mapErr(ctx, op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return out, nil
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

// millis is the stored form of a time.
func millis(t time.Time) int64 { return t.UnixMilli() }

// fromMillis is the inverse of millis.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// optMillis is the stored form of an optional time: NULL when zero.
func optMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return millis(t)
}

// fromOptMillis is the inverse of optMillis.
func fromOptMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return fromMillis(ms.Int64)
}

// optTime is dbTime, keeping a zero t zero.
func optTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return dbTime(t)
}

// nullIfEmpty stores an empty optional string as NULL, so that it never
// collides in a UNIQUE constraint.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func errNil(op, what string) error {
	return fmt.Errorf("sqlite: %s: nil %s", op, what)
}
