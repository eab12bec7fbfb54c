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

// TestPostgresPrivateRestart: PrivatePostgres is a server of the test's
// own that stops and starts again on the same folder and port, keeping
// its data; connections of before the stop are dead, new ones work.
func TestPostgresPrivateRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server (initdb): seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	s := PrivatePostgres(t)
	t.Logf("initdb and start in %v: port %d", time.Since(start), s.Port())
	u, err := url.Parse(s.URL())
	if err != nil || u.Hostname() != "127.0.0.1" || u.Port() == "5432" {
		t.Fatalf("URL %s is not a private loopback server (%v)", s.URL(), err)
	}
	old, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close(ctx)
	if _, err := old.Exec(ctx, "CREATE TABLE kept (x int PRIMARY KEY); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}

	start = time.Now()
	s.Stop()
	t.Logf("stopped in %v", time.Since(start))
	s.Stop() // again: nothing
	if err := postgresPing(u); err == nil {
		t.Fatal("the server answers after Stop")
	}
	if _, err := old.Exec(ctx, "SELECT 1"); err == nil {
		t.Fatal("a connection of before Stop still works")
	}

	start = time.Now()
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil { // again: nothing
		t.Fatal(err)
	}
	t.Logf("started again in %v", time.Since(start))
	if s.URL() != u.String() {
		t.Fatalf("URL changed across the restart: %s, then %s", u, s.URL())
	}
	c, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var x int
	if err := c.QueryRow(ctx, "SELECT x FROM kept").Scan(&x); err != nil || x != 42 {
		t.Fatalf("after the restart the table holds %d (%v), want 42", x, err)
	}

	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := postgresPing(u); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
}
