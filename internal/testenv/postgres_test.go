package testenv

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgresSchemas: each PostgresURL is an empty namespace of its own.
func TestPostgresSchemas(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	a := PostgresURL(t)
	b := PostgresURL(t)
	t.Logf("two URLs in %v", time.Since(start))
	if a == b {
		t.Fatalf("two calls returned the same URL %s", a)
	}
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	if _, err := ca.Exec(ctx, "CREATE TABLE t (x int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Exec(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	// The same table name in the other namespace is another table.
	if _, err := cb.Exec(ctx, "CREATE TABLE t (x int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := cb.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 0 {
		t.Fatalf("second namespace sees %d rows (%v), want 0", n, err)
	}
	if err := ca.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("first namespace sees %d rows (%v), want 1", n, err)
	}
}

// TestPostgresPrivateServer starts a server of its own with initdb, as
// PostgresURL does when no server is configured or listening.
func TestPostgresPrivateServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server (initdb): seconds")
	}
	if _, err := postgresBinaries(); err != nil {
		if inCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	start := time.Now()
	u, err := startPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("initdb and start in %v: %s", time.Since(start), u.Redacted())
	if err := postgresPing(u); err != nil {
		t.Fatal(err)
	}
	if h, err := url.Parse(u.String()); err != nil || h.Hostname() != "127.0.0.1" {
		t.Fatalf("server URL %s is not on loopback", u)
	}
}
