package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store/sqlite"
)

// Backup while a writer keeps inserting: the copy opens (quick_check
// passes), and it holds a prefix of the messages, the writer inserting
// seq 1, 2, 3, ... in order: every seq up to the copy's highest is there.
func TestBackupUnderConcurrentInserts(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	var inserted atomic.Int64
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for seq := int64(1); ; seq++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := s.InsertMessage(ctx, newMessage("r1", seq, "u1")); err != nil {
				done <- fmt.Errorf("insert %d: %w", seq, err)
				return
			}
			inserted.Store(seq)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for inserted.Load() < 200 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	dst := filepath.Join(t.TempDir(), "backup.db")
	berr := s.Backup(ctx, dst)
	after := inserted.Load()
	time.Sleep(20 * time.Millisecond) // the writer goes on after the backup
	close(stop)
	mustNil(t, "writer", <-done)
	mustNil(t, "Backup", berr)
	if after < 200 {
		t.Fatalf("only %d messages inserted before the backup", after)
	}

	copied := openAt(t, dst, sqlite.Options{}) // runs quick_check
	last, err := copied.LastMessage(ctx, "r1")
	mustNil(t, "LastMessage of the copy", err)
	if last.Seq < 200 || last.Seq > after+1 {
		t.Fatalf("copy ends at seq %d; %d were inserted when Backup started, %d when it returned", last.Seq, 200, after)
	}
	var next int64 = 1
	for {
		ms, err := copied.MessagesAfter(ctx, "r1", next-1, sqlite.MaxLimit)
		mustNil(t, "MessagesAfter of the copy", err)
		if len(ms) == 0 {
			break
		}
		for _, m := range ms {
			if m.Seq != next {
				t.Fatalf("copy has seq %d where %d was expected: not a prefix", m.Seq, next)
			}
			next++
		}
	}
	if next-1 != last.Seq {
		t.Fatalf("copy holds seqs 1..%d but its last message is %d", next-1, last.Seq)
	}
	n, err := copied.CountAfter(ctx, "r1", 0, "")
	mustNil(t, "CountAfter of the copy", err)
	if n != last.Seq {
		t.Fatalf("copy counts %d messages, want %d", n, last.Seq)
	}
	// The source is still complete and writable.
	mustNil(t, "insert after backup", s.InsertMessage(ctx, newMessage("r2", 1, "u1")))
	t.Logf("backup holds %d messages; %d inserted when Backup returned", last.Seq, after)
}

func TestBackupDestination(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.db")
	mustNil(t, "write file", os.WriteFile(existing, []byte("keep me"), 0o600))
	err := s.Backup(ctx, existing)
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("Backup over an existing file: got %v", err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Fatal("Backup overwrote an existing file")
	}
	if err := s.Backup(ctx, filepath.Join(dir, "missing", "b.db")); err == nil {
		t.Fatal("Backup into a missing directory: no error")
	}
	if err := s.Backup(ctx, ""); err == nil {
		t.Fatal("Backup to an empty path: no error")
	}
	mustNil(t, "Close", s.Close(context.Background()))
	if err := s.Backup(ctx, filepath.Join(dir, "closed.db")); err == nil {
		t.Fatal("Backup of a closed store: no error")
	}
}
