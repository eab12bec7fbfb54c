package sqlite_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/sqlite"
)

// rawDB opens the file with database/sql directly, bypassing the store.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	mustNil(t, "sql.Open", err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func userVersion(t *testing.T, path string) int {
	t.Helper()
	db := rawDB(t, path)
	var v int
	mustNil(t, "user_version", db.QueryRow("PRAGMA user_version").Scan(&v))
	mustNil(t, "close raw db", db.Close())
	return v
}

func TestMigrationsFreshAndReopen(t *testing.T) {
	ctx := testCtx(t)
	latest := sqlite.LatestSchemaVersion()
	if latest < 1 {
		t.Fatalf("LatestSchemaVersion = %d", latest)
	}
	path := dbPath(t)
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	mustNil(t, "Open new", err)
	mustNil(t, "CreateUser", s.CreateUser(ctx, newUser("u1", "alice")))
	mustNil(t, "Close", s.Close(ctx))
	if v := userVersion(t, path); v != latest {
		t.Fatalf("fresh database at schema version %d, want %d", v, latest)
	}

	// Reopening applies nothing and keeps the data and the constraints.
	for i := 0; i < 2; i++ {
		s, err := sqlite.Open(ctx, path, sqlite.Options{})
		mustNil(t, "Open again", err)
		_, err = s.UserByAccount(ctx, "alice")
		mustNil(t, "data kept", err)
		wantErr(t, "constraint kept", s.CreateUser(ctx, newUser("u2", "alice")), store.ErrDuplicate)
		mustNil(t, "Close", s.Close(ctx))
		if v := userVersion(t, path); v != latest {
			t.Fatalf("reopened database at schema version %d, want %d", v, latest)
		}
	}
}

func TestMigrationsNewerSchemaRefused(t *testing.T) {
	ctx := testCtx(t)
	path := dbPath(t)
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	mustNil(t, "Open", err)
	mustNil(t, "Close", s.Close(ctx))

	latest := sqlite.LatestSchemaVersion()
	db := rawDB(t, path)
	_, err = db.Exec(fmt.Sprintf("PRAGMA user_version = %d", latest+1))
	mustNil(t, "set user_version", err)
	mustNil(t, "close raw db", db.Close())

	_, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err == nil {
		t.Fatal("Open of a newer schema: no error")
	}
	want := fmt.Sprintf("sqlite: database schema version %d is newer than this build supports (%d); upgrade the server", latest+1, latest)
	if err.Error() != want {
		t.Fatalf("Open of a newer schema: got %q, want %q", err, want)
	}
	var sv *sqlite.SchemaVersionError
	if !errors.As(err, &sv) || sv.Database != latest+1 || sv.Latest != latest {
		t.Fatalf("Open of a newer schema: error %#v is not a matching *SchemaVersionError", err)
	}
	if v := userVersion(t, path); v != latest+1 {
		t.Fatalf("refused database changed to version %d", v)
	}
}

func TestOpenNotADatabase(t *testing.T) {
	ctx := testCtx(t)
	path := dbPath(t)
	junk := make([]byte, 64<<10)
	_, _ = rand.Read(junk)
	mustNil(t, "write junk", os.WriteFile(path, junk, 0o600))
	_, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err == nil || !strings.Contains(err.Error(), "not a database") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of random bytes: got %v, want an error naming %s as not a database", err, path)
	}
}

// A valid header with damaged pages behind it passes the open but fails
// quick_check.
func TestOpenCorruptDatabase(t *testing.T) {
	ctx := testCtx(t)
	path := dbPath(t)
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	mustNil(t, "Open", err)
	for seq := int64(1); seq <= 500; seq++ {
		m := newMessage("r1", seq, "u1")
		m.Body = strings.Repeat("x", 200)
		mustNil(t, "InsertMessage", s.InsertMessage(ctx, m))
	}
	mustNil(t, "Close", s.Close(ctx)) // checkpoints everything into the file

	b, err := os.ReadFile(path)
	mustNil(t, "read db", err)
	if len(b) < 40*4096 {
		t.Fatalf("database only %d bytes", len(b))
	}
	_, _ = rand.Read(b[len(b)/2 : len(b)/2+8*4096]) // pages in the middle of the messages
	mustNil(t, "write db", os.WriteFile(path, b, 0o600))

	_, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a damaged database: got %v, want an error naming %s as corrupt", err, path)
	}
}

func TestOpenBadDirectory(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()

	// A path under a regular file fails for root too.
	file := filepath.Join(dir, "file.txt")
	mustNil(t, "write file", os.WriteFile(file, []byte("x"), 0o600))
	_, err := sqlite.Open(ctx, filepath.Join(file, "db.sqlite"), sqlite.Options{})
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("Open under a file: got %v, want an error saying %s is not a directory", err, file)
	}

	missing := filepath.Join(dir, "missing")
	_, err = sqlite.Open(ctx, filepath.Join(missing, "db.sqlite"), sqlite.Options{})
	if err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open in a missing directory: got %v, want a not-exist error naming %s", err, missing)
	}

	_, err = sqlite.Open(ctx, dir, sqlite.Options{})
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("Open of a directory: got %v", err)
	}
	if _, err := sqlite.Open(ctx, "", sqlite.Options{}); err == nil {
		t.Fatal("Open of an empty path: no error")
	}

	if os.Geteuid() == 0 {
		t.Log("running as root: permission bits do not stop root, skipping the read-only directory case")
		return
	}
	ro := filepath.Join(dir, "ro")
	mustNil(t, "mkdir", os.Mkdir(ro, 0o500))
	t.Cleanup(func() { _ = os.Chmod(ro, 0o700) })
	_, err = sqlite.Open(ctx, filepath.Join(ro, "db.sqlite"), sqlite.Options{})
	if err == nil || !strings.Contains(err.Error(), ro) || !strings.Contains(err.Error(), "not writable") {
		t.Fatalf("Open in a read-only directory: got %v, want an error saying %s is not writable", err, ro)
	}
}

func TestOpenBadOptions(t *testing.T) {
	_, err := sqlite.Open(testCtx(t), dbPath(t), sqlite.Options{Synchronous: "sometimes"})
	if err == nil || !strings.Contains(err.Error(), "synchronous") {
		t.Fatalf("Open with a bad synchronous mode: got %v", err)
	}
}

// The pragmas of the DSN reach the connections: WAL and the chosen
// synchronous mode on the writer, query_only on the readers.
func TestPragmas(t *testing.T) {
	ctx := testCtx(t)
	for _, tc := range []struct {
		opts sqlite.Options
		sync string
	}{
		{sqlite.Options{}, "2"}, // FULL
		{sqlite.Options{Synchronous: "normal"}, "1"},
	} {
		s := openAt(t, dbPath(t), tc.opts)
		for name, want := range map[string]string{
			"journal_mode": "wal", "synchronous": tc.sync, "busy_timeout": "5000", "foreign_keys": "1",
		} {
			got, err := s.WriterPragma(ctx, name)
			mustNil(t, "writer pragma "+name, err)
			if got != want {
				t.Errorf("writer %s = %s, want %s", name, got, want)
			}
		}
		for name, want := range map[string]string{"journal_mode": "wal", "query_only": "1", "busy_timeout": "5000"} {
			got, err := s.ReaderPragma(ctx, name)
			mustNil(t, "reader pragma "+name, err)
			if got != want {
				t.Errorf("reader %s = %s, want %s", name, got, want)
			}
		}
		if err := s.ExecReader(ctx, "DELETE FROM users"); err == nil {
			t.Error("a reader connection accepted a write")
		}
	}
}

func TestUseAfterClose(t *testing.T) {
	ctx := testCtx(t)
	s, err := sqlite.Open(ctx, dbPath(t), sqlite.Options{})
	mustNil(t, "Open", err)
	mustNil(t, "Ping", s.Ping(ctx))
	mustNil(t, "Close", s.Close(ctx))
	mustNil(t, "Close again", s.Close(ctx))
	_, err = s.UserByID(ctx, "u1")
	wantErr(t, "UserByID after Close", err, store.ErrUnavailable)
	wantErr(t, "Ping after Close", s.Ping(ctx), store.ErrUnavailable)
	wantErr(t, "InsertMessage after Close", s.InsertMessage(ctx, newMessage("r1", 1, "u1")), store.ErrUnavailable)
	_, err = s.MessagesAfter(ctx, "r1", 0, 10)
	wantErr(t, "MessagesAfter after Close", err, store.ErrUnavailable)
	wantErr(t, "RevokeFamily after Close", s.RevokeFamily(ctx, "f"), store.ErrUnavailable)
}

func TestContextErrors(t *testing.T) {
	s := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.UserByID(ctx, "u1")
	if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("cancelled context: got %v, want context.Canceled and not ErrUnavailable", err)
	}
	err = s.InsertMessage(ctx, newMessage("r1", 1, "u1"))
	if !errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("cancelled context on a write: got %v", err)
	}

	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	_, err = s.UserByID(dctx, "u1")
	wantErr(t, "expired deadline", err, store.ErrUnavailable)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired deadline: %v does not keep context.DeadlineExceeded", err)
	}
}

// A full disk (simulated with max_page_count, which makes SQLite fail with
// SQLITE_FULL exactly as a full file system does) is ErrUnavailable, and
// the store stays usable for reads.
func TestDiskFull(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	mustNil(t, "InsertMessage", s.InsertMessage(ctx, newMessage("r1", 1, "u1")))
	pages, err := s.WriterPragma(ctx, "page_count")
	mustNil(t, "page_count", err)
	mustNil(t, "max_page_count", s.ExecWriter(ctx, "PRAGMA max_page_count = "+pages))
	var werr error
	for seq := int64(2); seq < 1000 && werr == nil; seq++ {
		m := newMessage("r1", seq, "u1")
		m.Body = strings.Repeat("x", 4000)
		werr = s.InsertMessage(ctx, m)
	}
	wantErr(t, "insert on a full disk", werr, store.ErrUnavailable)
	if !strings.Contains(werr.Error(), "full") {
		t.Fatalf("full disk error %q does not say so", werr)
	}
	_, err = s.MessagesAfter(ctx, "r1", 0, 10)
	mustNil(t, "read on a full disk", err)
}

// The path goes into a file: URI; characters that mean something there
// must not change which file is opened.
func TestOpenPathWithURICharacters(t *testing.T) {
	ctx := testCtx(t)
	dir := filepath.Join(t.TempDir(), "a b?c#d%20e&f=g")
	mustNil(t, "mkdir", os.Mkdir(dir, 0o700))
	path := filepath.Join(dir, "im?x=1.db")
	s := openAt(t, path, sqlite.Options{})
	mustNil(t, "CreateUser", s.CreateUser(ctx, newUser("u1", "alice")))
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at %s: %v", path, err)
	}
	entries, err := os.ReadDir(dir)
	mustNil(t, "ReadDir", err)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "im?x=1.db") {
			t.Errorf("stray file %q next to the database", e.Name())
		}
	}
}

// TestMigrationFromVersion1: a database written at schema version 1 (the
// script applied by hand, with data) is brought to the latest version by
// Open, its rows kept and readable with the new columns at their
// defaults.
func TestMigrationFromVersion1(t *testing.T) {
	ctx := testCtx(t)
	path := dbPath(t)
	script, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	mustNil(t, "read 0001", err)
	db := rawDB(t, path)
	_, err = db.Exec(string(script))
	mustNil(t, "apply 0001", err)
	_, err = db.Exec("PRAGMA user_version = 1")
	mustNil(t, "set user_version", err)
	_, err = db.Exec(`INSERT INTO users (id, account, email, password, nickname, avatar, sex, created_at, updated_at)
		VALUES ('u1', 'alice', 'alice@example.com', 'h', 'Alice', '', 1, 1000, 2000)`)
	mustNil(t, "insert user", err)
	_, err = db.Exec(`INSERT INTO refresh_tokens (hash, family, user_id, expires_at, created_at)
		VALUES ('h1', 'f1', 'u1', 5000, 1000)`)
	mustNil(t, "insert token", err)
	mustNil(t, "close raw db", db.Close())

	s := openAt(t, path, sqlite.Options{})
	if v := userVersion(t, path); v != sqlite.LatestSchemaVersion() {
		t.Fatalf("migrated database at schema version %d, want %d", v, sqlite.LatestSchemaVersion())
	}
	u, err := s.UserByAccount(ctx, "alice")
	mustNil(t, "UserByAccount", err)
	if u.ID != "u1" || u.Deleted() || !u.DeletedAt.IsZero() {
		t.Fatalf("migrated user %+v", u)
	}
	mustNil(t, "MarkDeleted", s.MarkDeleted(ctx, "u1", time.UnixMilli(3000)))
	n, err := s.ReleaseDeleted(ctx, time.UnixMilli(4000), 10)
	mustNil(t, "ReleaseDeleted", err)
	if n != 1 {
		t.Fatalf("ReleaseDeleted released %d, want 1", n)
	}
	mustNil(t, "CreateSession", s.CreateSession(ctx, &store.Session{ID: "f1", UserID: "u1", ExpiresAt: time.UnixMilli(5000)}))
	n, err = s.PurgeExpired(ctx, time.UnixMilli(6000), 10)
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
	ctx := testCtx(t)
	path := dbPath(t)
	db := rawDB(t, path)
	for _, name := range []string{"0001_init.sql", "0002_accounts.sql"} {
		script, err := os.ReadFile(filepath.Join("migrations", name))
		mustNil(t, "read "+name, err)
		_, err = db.Exec(string(script))
		mustNil(t, "apply "+name, err)
	}
	_, err := db.Exec("PRAGMA user_version = 2")
	mustNil(t, "set user_version", err)
	_, err = db.Exec(`INSERT INTO messages (room_id, seq, id, sender, body, client_msg_id, created_at, hole)
		VALUES ('r1', 1, 'm1', 'u1', 'hello', 'c1', 1000, 0), ('r1', 2, 'm2', '', '', 'hole:r1:2', 2000, 1)`)
	mustNil(t, "insert messages", err)
	_, err = db.Exec(`INSERT INTO members (room_id, user_id, room_type, read_seq, created_at)
		VALUES ('r1', 'u1', 2, 1, 1000), ('r1', 'u2', 2, 0, 1000)`)
	mustNil(t, "insert members", err)
	mustNil(t, "close raw db", db.Close())

	s := openAt(t, path, sqlite.Options{})
	if v := userVersion(t, path); v != sqlite.LatestSchemaVersion() {
		t.Fatalf("migrated database at schema version %d, want %d", v, sqlite.LatestSchemaVersion())
	}
	ms, err := s.MessagesAfter(ctx, "r1", 0, 10)
	mustNil(t, "MessagesAfter", err)
	want := []store.Message{
		{ID: "m1", RoomID: "r1", Seq: 1, From: "u1", Body: "hello", ClientMsgID: "c1", CreatedAt: time.UnixMilli(1000).UTC()},
		{ID: "m2", RoomID: "r1", Seq: 2, ClientMsgID: "hole:r1:2", CreatedAt: time.UnixMilli(2000).UTC(), Hole: true},
	}
	if !reflect.DeepEqual(ms, want) {
		t.Fatalf("migrated messages:\n got %+v\nwant %+v", ms, want)
	}
	n, err := s.CountAfter(ctx, "r1", 0, "u2")
	mustNil(t, "CountAfter", err)
	if n != 1 {
		t.Fatalf("CountAfter = %d, want 1", n)
	}
	mustNil(t, "EditMessage", s.EditMessage(ctx, "r1", 1, "edited", time.UnixMilli(3000)))
	mustNil(t, "RecallMessage", s.RecallMessage(ctx, "r1", 1))
	wantErr(t, "EditMessage after recall", s.EditMessage(ctx, "r1", 1, "x", time.Time{}), store.ErrRecalled)
	mustNil(t, "MarkMentioned", s.MarkMentioned(ctx, "r1", nil, 2))
	members, err := s.Members(ctx, "r1")
	mustNil(t, "Members", err)
	if len(members) != 2 || members[0].MentionSeq != 2 || members[1].MentionSeq != 2 || members[0].ReadSeq != 1 {
		t.Fatalf("migrated members after MarkMentioned: %+v", members)
	}
}
