package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// Queries returns every SQL statement the store runs on its tables.
func Queries() map[string]string { return queries() }

// Exec runs a statement as it is, for tests that seed data.
func (s *Store) Exec(ctx context.Context, query string, args ...any) error {
	_, err := s.pool.Exec(ctx, query, args...)
	return err
}

// ExecMapped runs a statement the way the store's methods do, mapping its
// error: a hook for the error mapping tests (pg_sleep past the statement
// timeout, ...).
func (s *Store) ExecMapped(ctx context.Context, query string, args ...any) error {
	_, err := s.exec(ctx, "test statement", query, args...)
	return err
}

// InsertQueue is the capacity of the group commit's queue.
const InsertQueue = insertQueue

// BatchStats returns the number of group-commit statements run and of
// the messages they carried.
func (s *Store) BatchStats() (statements, messages int64) {
	return s.commit.statements.Load(), s.commit.messages.Load()
}

// QueuedInserts is the number of messages waiting for a committer.
func (s *Store) QueuedInserts() int { return len(s.commit.inserts) }

// CommittersStopping reports whether Close has told the committers to
// stop.
func (s *Store) CommittersStopping() bool {
	select {
	case <-s.commit.quit:
		return true
	default:
		return false
	}
}

// InsertBatch writes ms as one batch of the group commit, as a committer
// does with what it found queued, and returns each message's outcome.
func (s *Store) InsertBatch(ctx context.Context, ms []*store.Message) []error {
	batch := make([]*insertReq, len(ms))
	for i, m := range ms {
		normaliseMessage(m)
		batch[i] = &insertReq{ctx: ctx, m: *m, err: make(chan error, 1)}
	}
	s.commitBatch(batch)
	errs := make([]error, len(ms))
	for i, r := range batch {
		errs[i] = <-r.err
	}
	return errs
}

// Pool is the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Setting returns a run-time parameter as a pooled connection sees it.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v)
	return v, err
}

// OpenWithExtraMigrations opens as a newer build would: with the embedded
// migrations followed by scripts, numbered from LatestSchemaVersion()+1.
func OpenWithExtraMigrations(ctx context.Context, url string, opts Options, scripts ...string) (*Store, error) {
	return open(ctx, url, opts, func() ([]migration, error) {
		ms, err := migrations()
		if err != nil {
			return nil, err
		}
		for _, sql := range scripts {
			v := len(ms) + 1
			ms = append(ms, migration{Version: v, Name: fmt.Sprintf("%04d_test.sql", v), SQL: sql})
		}
		return ms, nil
	})
}

// OpenAtVersion opens as an older build would: with the first version
// embedded migrations only. The Store's methods expect the latest schema:
// use it to seed rows with Exec.
func OpenAtVersion(ctx context.Context, url string, opts Options, version int) (*Store, error) {
	return open(ctx, url, opts, func() ([]migration, error) {
		ms, err := migrations()
		if err != nil {
			return nil, err
		}
		return ms[:version], nil
	})
}

// param matches a $n placeholder.
var param = regexp.MustCompile(`\$(\d+)`)

// GenericPlan returns the plan PostgreSQL uses for query as a prepared
// statement whatever its arguments (plan_cache_mode =
// force_generic_plan), as EXPLAIN (FORMAT JSON) gives it: the plan the
// pool's cached statements end up with, which depends on the table
// statistics but not on the values.
func (s *Store) GenericPlan(ctx context.Context, query string) (any, error) {
	n := 0
	for _, m := range param.FindAllStringSubmatch(query, -1) {
		k, _ := strconv.Atoi(m[1])
		n = max(n, k)
	}
	var out []byte
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "PREPARE plan_check AS "+query); err != nil {
			return err
		}
		// The transaction is rolled back, but a prepared statement
		// outlives it: deallocate it.
		defer func() { _, _ = tx.Conn().Exec(ctx, "DEALLOCATE plan_check") }()
		args := ""
		if n > 0 {
			args = "(NULL"
			for range n - 1 {
				args += ", NULL"
			}
			args += ")"
		}
		if err := tx.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE plan_check"+args,
			pgx.QueryExecModeSimpleProtocol).Scan(&out); err != nil {
			return err
		}
		return errRollback
	})
	if err != nil && err != errRollback {
		return nil, err
	}
	var plan any
	if err := json.Unmarshal(out, &plan); err != nil {
		return nil, fmt.Errorf("plan %s: %w", out, err)
	}
	return plan, nil
}

var errRollback = fmt.Errorf("rollback")
