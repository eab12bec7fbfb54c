package standalone_test

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	_ "modernc.org/sqlite"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/standalone"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/sqlite"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const wait = 10 * time.Second

func testConfig(t *testing.T, dataDir, smtpAddr string) config.Config {
	t.Helper()
	cfg, err := config.Load(flag.NewFlagSet("standalone-test", flag.ContinueOnError), nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir, cfg.HTTPAddr, cfg.NodeID = dataDir, "127.0.0.1:0", "standalone-test"
	cfg.SMTPAddr, cfg.SMTPTLS = smtpAddr, "none"
	return cfg
}

func start(t *testing.T, cfg config.Config) (*standalone.Server, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := standalone.Start(ctx, cfg, standalone.Options{
		Log:  zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
		Core: app.CoreOptions{Limits: apitest.Generous(), CodeOpts: apitest.GenerousCodes()},
	})
	if err == nil {
		t.Cleanup(func() { stop(t, s) })
	}
	return s, err
}

func stop(t *testing.T, s *standalone.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("close: %v", err)
	}
}

// historyIDs pages through room's whole history and returns the
// client_msg_ids in seq order.
func historyIDs(t *testing.T, e *apitest.Env, token, room string) []string {
	t.Helper()
	var ids []string
	var after int64
	for {
		var h struct {
			Messages []protocol.Message
			HasMore  bool `json:"has_more"`
		}
		r := e.Do("GET", fmt.Sprintf("/v1/rooms/%s/messages?after=%d&limit=100", room, after), token, nil)
		if r.Status != 200 {
			t.Fatalf("history: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &h)
		for _, m := range h.Messages {
			ids, after = append(ids, m.ClientMsgID), m.Seq
		}
		if !h.HasMore || len(h.Messages) == 0 {
			return ids
		}
	}
}

func wsURL(httpURL string) string { return "ws" + strings.TrimPrefix(httpURL, "http") + "/ws" }

// An online backup taken while a client keeps sending holds every message
// acked before it began, as a gap-free prefix of what was acked; restored
// into a stopped server's data folder, the server comes back with exactly
// that history (and the replaced database is kept aside).
func TestBackupUnderLoadThenRestore(t *testing.T) {
	sink := testenv.NewSMTPSink(t)
	dir := t.TempDir()
	cfg := testConfig(t, dir, sink.Addr)
	s, err := start(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &apitest.Env{T: t, URL: s.URL, SMTP: sink}
	a, b := e.Register("bk"), e.Register("bk")
	room := e.Befriend(a, b)
	c := apitest.DialWS(t, wsURL(s.URL), a.Token)

	var (
		mu      sync.Mutex
		acked   []string
		sendErr error
		done    = make(chan struct{})
		quit    = make(chan struct{})
	)
	go func() { // one client, sending as fast as it is acked
		defer close(done)
		for i := 0; i < 2000; i++ {
			select {
			case <-quit:
				return
			default:
			}
			id := fmt.Sprint("m", i)
			if _, _, err := c.SendReliably(room, id, id, 10, wait); err != nil {
				mu.Lock()
				sendErr = err
				mu.Unlock()
				return
			}
			mu.Lock()
			acked = append(acked, id)
			mu.Unlock()
		}
	}()
	ackedNow := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), acked...) }
	for len(ackedNow()) < 50 {
		select {
		case <-done:
			t.Fatalf("sender stopped early: %v", sendErr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	before := ackedNow()
	file := filepath.Join(t.TempDir(), "backup.db")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := standalone.Backup(ctx, cfg, file); err != nil {
		t.Fatal(err)
	}
	for n := len(ackedNow()); len(ackedNow()) < n+50; { // sends went on during and after it
		select {
		case <-done:
			t.Fatalf("sender stopped early: %v", sendErr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	close(quit)
	<-done
	all := ackedNow()
	if sendErr != nil {
		t.Fatal(sendErr)
	}

	if _, err := standalone.Restore(ctx, cfg, file); !errors.Is(err, standalone.ErrInUse) {
		t.Fatalf("restore into a running server's folder: %v, want ErrInUse", err)
	}
	stop(t, s)
	kept, err := standalone.Restore(ctx, cfg, file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Fatalf("replaced database not kept: %v", err)
	}
	s2, err := start(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.URL = s2.URL
	got := historyIDs(t, e, b.Token, room)
	if len(got) < len(before) || len(got) > len(all) || fmt.Sprint(got) != fmt.Sprint(all[:len(got)]) {
		t.Fatalf("restored history has %d messages, want a prefix of the %d acked holding the %d acked before the backup:\n%v",
			len(got), len(all), len(before), got)
	}
	t.Logf("acked before the backup %d, in the backup %d, acked in all %d", len(before), len(got), len(all))
}

// Bad data folders are refused at start with an error that says what is
// wrong, never a crash or a silent empty store.
func TestStartRefusesBadDataFolders(t *testing.T) {
	sink := testenv.NewSMTPSink(t)
	t.Run("NotADirectory", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := start(t, testConfig(t, filepath.Join(file, "data"), sink.Addr))
		if err == nil || !strings.Contains(err.Error(), file) {
			t.Fatalf("data folder under a file: %v", err)
		}
	})
	t.Run("CorruptDatabase", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, standalone.DBFile), []byte(strings.Repeat("not sqlite ", 500)), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := start(t, testConfig(t, dir, sink.Addr))
		if err == nil || !strings.Contains(err.Error(), "not a database") {
			t.Fatalf("corrupt database: %v", err)
		}
	})
	t.Run("NewerSchema", func(t *testing.T) {
		dir := t.TempDir()
		db, err := sql.Open("sqlite", filepath.Join(dir, standalone.DBFile))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", sqlite.LatestSchemaVersion()+1)); err != nil {
			t.Fatal(err)
		}
		db.Close()
		_, err = start(t, testConfig(t, dir, sink.Addr))
		var sv *sqlite.SchemaVersionError
		if !errors.As(err, &sv) || !strings.Contains(err.Error(), "newer") {
			t.Fatalf("newer schema: %v", err)
		}
	})
	t.Run("InUse", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := start(t, testConfig(t, dir, sink.Addr)); err != nil {
			t.Fatal(err)
		}
		if _, err := start(t, testConfig(t, dir, sink.Addr)); !errors.Is(err, standalone.ErrInUse) {
			t.Fatalf("second server on one folder: %v, want ErrInUse", err)
		}
	})
}
