package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/postgres"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/storetest"
)

// versions returns the rows of schema_version, in order.
func versions(ctx context.Context, t *testing.T, s *postgres.Store) []int {
	t.Helper()
	rows, err := s.Pool().Query(ctx, "SELECT version FROM schema_version ORDER BY version")
	mustNil(t, "read schema_version", err)
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		mustNil(t, "scan", rows.Scan(&v))
		out = append(out, v)
	}
	mustNil(t, "rows", rows.Err())
	return out
}

// wantVersions checks that schema_version holds 1..latest once each.
func wantVersions(ctx context.Context, t *testing.T, s *postgres.Store, latest int) {
	t.Helper()
	got := versions(ctx, t, s)
	if len(got) != latest {
		t.Fatalf("schema_version holds %v, want 1..%d once each", got, latest)
	}
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("schema_version holds %v, want 1..%d once each", got, latest)
		}
	}
}

func TestOpenFreshIsLatest(t *testing.T) {
	if postgres.LatestSchemaVersion() < 1 {
		t.Fatal("no embedded migrations")
	}
	s, ctx := openStore(t), testCtx(t)
	wantVersions(ctx, t, s, postgres.LatestSchemaVersion())
}

func TestReopenIsIdempotent(t *testing.T) {
	url, ctx := testenv.PostgresURL(t), testCtx(t)
	s := openAt(t, url, postgres.Options{})
	mustNil(t, "CreateUser", s.CreateUser(ctx, newUser("u1", "alice")))
	closeStore(t, s)

	s = openAt(t, url, postgres.Options{})
	wantVersions(ctx, t, s, postgres.LatestSchemaVersion())
	u, err := s.UserByID(ctx, "u1")
	mustNil(t, "UserByID after reopening", err)
	if u.Account != "alice" {
		t.Fatalf("user %+v", u)
	}
}

// TestConcurrentOpenFresh: servers starting at once on an empty database
// all succeed, and each migration is applied once.
func TestConcurrentOpenFresh(t *testing.T) {
	url, ctx := testenv.PostgresURL(t), testCtx(t)
	stores := make([]*postgres.Store, 8)
	errs := storetest.Race(len(stores), func(i int) error {
		var err error
		stores[i], err = postgres.Open(ctx, url, postgres.Options{MaxConns: 2})
		return err
	})
	for i, s := range stores {
		if s != nil {
			t.Cleanup(func() { closeStore(t, s) })
		}
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
		}
	}
	if t.Failed() {
		return
	}
	wantVersions(ctx, t, stores[0], postgres.LatestSchemaVersion())
	mustNil(t, "CreateUser", stores[0].CreateUser(ctx, newUser("u1", "alice")))
	wantErr(t, "constraint across stores", stores[1].CreateUser(ctx, newUser("u2", "alice")), store.ErrDuplicate)
}

// TestNewerSchemaRefused: a database a newer build migrated is refused
// with a clear error, and left as it is.
func TestNewerSchemaRefused(t *testing.T) {
	url, ctx := testenv.PostgresURL(t), testCtx(t)
	s := openAt(t, url, postgres.Options{})
	latest := postgres.LatestSchemaVersion()
	newer := latest + 7
	mustNil(t, "fake a newer version", s.Exec(ctx, "INSERT INTO schema_version (version, name) VALUES ($1, 'future.sql')", newer))
	closeStore(t, s)

	s, err := postgres.Open(ctx, url, postgres.Options{})
	if err == nil {
		closeStore(t, s)
		t.Fatal("Open of a newer database succeeded")
	}
	sv, ok := errors.AsType[*postgres.SchemaVersionError](err)
	if !ok || sv.Database != newer || sv.Latest != latest {
		t.Fatalf("Open: %v (%#v), want a SchemaVersionError{%d, %d}", err, sv, newer, latest)
	}
	want := fmt.Sprintf("postgres: database schema version %d is newer than this build supports (%d); upgrade the server", newer, latest)
	if err.Error() != want {
		t.Fatalf("Open: error %q, want %q", err, want)
	}
}

// TestOlderSchemaMigrated: a database at the version of this build is
// brought up to date by a newer build on start (a test-only migration
// list: the embedded scripts plus one), which this build then refuses.
func TestOlderSchemaMigrated(t *testing.T) {
	url, ctx := testenv.PostgresURL(t), testCtx(t)
	latest := postgres.LatestSchemaVersion()
	s := openAt(t, url, postgres.Options{})
	mustNil(t, "CreateUser", s.CreateUser(ctx, newUser("u1", "alice")))
	closeStore(t, s)

	const extra = "ALTER TABLE users ADD COLUMN test_extra text NOT NULL DEFAULT 'x';\n" +
		"CREATE INDEX users_test_extra ON users (test_extra);"
	newer, err := postgres.OpenWithExtraMigrations(ctx, url, postgres.Options{}, extra)
	mustNil(t, "Open by a newer build", err)
	t.Cleanup(func() { closeStore(t, newer) })
	wantVersions(ctx, t, newer, latest+1)
	var col string
	mustNil(t, "new column", newer.Pool().QueryRow(ctx, "SELECT test_extra FROM users WHERE id = 'u1'").Scan(&col))
	if col != "x" {
		t.Fatalf("test_extra = %q", col)
	}
	if _, err := newer.UserByID(ctx, "u1"); err != nil {
		t.Fatalf("data lost in the migration: %v", err)
	}

	// A still newer build whose next script fails: Open fails, and the
	// transaction leaves the database as it was.
	again, err := postgres.OpenWithExtraMigrations(ctx, url, postgres.Options{}, extra,
		"CREATE TABLE test_half (x int);\nSELECT 1/0;")
	if err == nil {
		closeStore(t, again)
		t.Fatal("a migration failing on purpose did not fail Open")
	}
	t.Logf("failed migration: %v", err)
	wantVersions(ctx, t, newer, latest+1)
	var half bool
	mustNil(t, "to_regclass", newer.Pool().QueryRow(ctx, "SELECT to_regclass('test_half') IS NOT NULL").Scan(&half))
	if half {
		t.Fatal("the failed migration left its table behind")
	}

	_, err = postgres.Open(ctx, url, postgres.Options{})
	if _, ok := errors.AsType[*postgres.SchemaVersionError](err); !ok {
		t.Fatalf("this build on the newer database: %v, want a SchemaVersionError", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := testCtx(t)
	if _, err := postgres.Open(ctx, "", postgres.Options{}); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	if _, err := postgres.Open(ctx, "postgres://x:y@127.0.0.1:notaport/db", postgres.Options{}); err == nil {
		t.Error("Open of a malformed URL succeeded")
	}

	// Nothing listens on a port just closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	mustNil(t, "listen", err)
	addr := l.Addr().String()
	l.Close()
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err = postgres.Open(short, "postgres://postgres@"+addr+"/postgres?sslmode=disable", postgres.Options{})
	wantErr(t, "Open of an unreachable server", err, store.ErrUnavailable)
}

// TestDefaults: the zero Options give each connection the documented
// statement timeout and the pool its size.
func TestDefaults(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	v, err := s.Setting(ctx, "statement_timeout")
	mustNil(t, "statement_timeout", err)
	if v != "5s" {
		t.Errorf("statement_timeout = %s, want 5s", v)
	}
	if n := s.Pool().Config().MaxConns; n != 16 {
		t.Errorf("MaxConns = %d, want 16", n)
	}
	v, err = s.Setting(ctx, "synchronous_commit")
	mustNil(t, "synchronous_commit", err)
	t.Logf("synchronous_commit = %s", v)

	s2 := openAt(t, testenv.PostgresURL(t), postgres.Options{StatementTimeout: 1500 * time.Millisecond, MaxConns: 3})
	v, err = s2.Setting(ctx, "statement_timeout")
	mustNil(t, "statement_timeout", err)
	if v != "1500ms" {
		t.Errorf("statement_timeout = %s, want 1500ms", v)
	}
	if n := s2.Pool().Config().MaxConns; n != 3 {
		t.Errorf("MaxConns = %d, want 3", n)
	}
}

// TestMigrationFromVersion1: a database at schema version 1, with data,
// is brought to the latest version by Open, its rows kept and readable
// with the new columns at their defaults.
func TestMigrationFromVersion1(t *testing.T) {
	url, ctx := testenv.PostgresURL(t), testCtx(t)
	old, err := postgres.OpenAtVersion(ctx, url, postgres.Options{}, 1)
	mustNil(t, "Open at version 1", err)
	wantVersions(ctx, t, old, 1)
	mustNil(t, "insert user", old.Exec(ctx, `INSERT INTO users
		(id, account, email, password, nickname, avatar, sex, created_at, updated_at)
		VALUES ('u1', 'alice', 'alice@example.com', 'h', 'Alice', '', 1, now(), now())`))
	mustNil(t, "insert token", old.Exec(ctx, `INSERT INTO refresh_tokens (hash, family, user_id, expires_at, created_at)
		VALUES ('h1', 'f1', 'u1', '2024-01-01T00:00:05Z', '2024-01-01T00:00:01Z')`))
	closeStore(t, old)

	s := openAt(t, url, postgres.Options{})
	wantVersions(ctx, t, s, postgres.LatestSchemaVersion())
	u, err := s.UserByAccount(ctx, "alice")
	mustNil(t, "UserByAccount", err)
	if u.ID != "u1" || u.Deleted() || !u.DeletedAt.IsZero() {
		t.Fatalf("migrated user %+v", u)
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	mustNil(t, "MarkDeleted", s.MarkDeleted(ctx, "u1", base.Add(3*time.Second)))
	n, err := s.ReleaseDeleted(ctx, base.Add(4*time.Second), 10)
	mustNil(t, "ReleaseDeleted", err)
	if n != 1 {
		t.Fatalf("ReleaseDeleted released %d, want 1", n)
	}
	mustNil(t, "CreateSession", s.CreateSession(ctx, &store.Session{ID: "f1", UserID: "u1", ExpiresAt: base.Add(5 * time.Second)}))
	n, err = s.PurgeExpired(ctx, base.Add(6*time.Second), 10)
	mustNil(t, "PurgeExpired", err)
	if n != 2 {
		t.Fatalf("PurgeExpired deleted %d rows, want 2 (a token and a session)", n)
	}
}

// TestMigrationFromVersion2: a database at schema version 2 with messages
// and memberships is brought to the latest version by Open; the old rows
// read as plain messages (kind "", no mentions, not edited nor recalled)
// and memberships never mentioned, and take the new operations.
func TestMigrationFromVersion2(t *testing.T) {
	url, ctx := testenv.PostgresURL(t), testCtx(t)
	old, err := postgres.OpenAtVersion(ctx, url, postgres.Options{}, 2)
	mustNil(t, "Open at version 2", err)
	wantVersions(ctx, t, old, 2)
	mustNil(t, "insert messages", old.Exec(ctx, `INSERT INTO messages
		(room_id, seq, id, sender, body, client_msg_id, created_at, hole) VALUES
		('r1', 1, 'm1', 'u1', 'hello', 'c1', '2024-01-01T00:00:01Z', false),
		('r1', 2, 'm2', '', '', 'hole:r1:2', '2024-01-01T00:00:02Z', true)`))
	mustNil(t, "insert members", old.Exec(ctx, `INSERT INTO members (room_id, user_id, room_type, read_seq, created_at)
		VALUES ('r1', 'u1', 2, 1, '2024-01-01T00:00:01Z'), ('r1', 'u2', 2, 0, '2024-01-01T00:00:01Z')`))
	closeStore(t, old)

	s := openAt(t, url, postgres.Options{})
	wantVersions(ctx, t, s, postgres.LatestSchemaVersion())
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	ms, err := s.MessagesAfter(ctx, "r1", 0, 10)
	mustNil(t, "MessagesAfter", err)
	want := []store.Message{
		{ID: "m1", RoomID: "r1", Seq: 1, From: "u1", Body: "hello", ClientMsgID: "c1", CreatedAt: base.Add(time.Second)},
		{ID: "m2", RoomID: "r1", Seq: 2, ClientMsgID: "hole:r1:2", CreatedAt: base.Add(2 * time.Second), Hole: true},
	}
	if !reflect.DeepEqual(ms, want) {
		t.Fatalf("migrated messages:\n got %+v\nwant %+v", ms, want)
	}
	n, err := s.CountAfter(ctx, "r1", 0, "u2")
	mustNil(t, "CountAfter", err)
	if n != 1 {
		t.Fatalf("CountAfter = %d, want 1", n)
	}
	mustNil(t, "EditMessage", s.EditMessage(ctx, "r1", 1, "edited", base.Add(3*time.Second)))
	mustNil(t, "RecallMessage", s.RecallMessage(ctx, "r1", 1))
	wantErr(t, "EditMessage after recall", s.EditMessage(ctx, "r1", 1, "x", time.Time{}), store.ErrRecalled)
	mustNil(t, "MarkMentioned", s.MarkMentioned(ctx, "r1", nil, 2))
	members, err := s.Members(ctx, "r1")
	mustNil(t, "Members", err)
	if len(members) != 2 || members[0].MentionSeq != 2 || members[1].MentionSeq != 2 || members[0].ReadSeq != 1 {
		t.Fatalf("migrated members after MarkMentioned: %+v", members)
	}
}
