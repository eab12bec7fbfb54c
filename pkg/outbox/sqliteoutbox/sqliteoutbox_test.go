package sqliteoutbox

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/outboxtest"
	"github.com/im-websocket-go/im-websocket-go/pkg/outbox"
)

func open(t *testing.T, path string, now func() time.Time) *Outbox {
	t.Helper()
	o, err := Open(context.Background(), path, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close() })
	return o
}

func TestConformance(t *testing.T) {
	outboxtest.Run(t, func(t *testing.T, now func() time.Time) outbox.Outbox {
		return open(t, filepath.Join(t.TempDir(), "outbox.db"), now)
	})
}

// What was queued, claimed or killed before a restart is still there
// after it: a claim's lease lapses, so the entry is due again.
func TestSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "outbox.db")
	clock := outboxtest.NewClock()
	o, err := Open(ctx, path, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := func(id string) outbox.Entry {
		return outbox.Entry{ID: id + "/ep", EventID: id, Endpoint: "ep", Event: "after_send", Payload: []byte(id)}
	}
	if err := o.Enqueue(ctx, e("a"), e("b"), e("c")); err != nil {
		t.Fatal(err)
	}
	if got, err := o.Claim(ctx, 1, time.Minute); err != nil || len(got) != 1 || got[0].ID != "a/ep" {
		t.Fatalf("claim: %v %v", got, err)
	}
	if err := o.Kill(ctx, "b/ep", "down"); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = open(t, path, clock.Now)
	if n, err := o.Pending(ctx); err != nil || n != 2 {
		t.Fatalf("pending after restart: %d %v, want 2 (a claimed, c queued)", n, err)
	}
	if dead, err := o.DeadLetters(ctx, 10); err != nil || len(dead) != 1 || dead[0].ID != "b/ep" || dead[0].LastError != "down" {
		t.Fatalf("dead letters after restart: %+v %v", dead, err)
	}
	clock.Add(2 * time.Minute) // the lease of a lapsed
	got, err := o.Claim(ctx, 10, time.Minute)
	if err != nil || len(got) != 2 || got[0].ID != "c/ep" || got[1].ID != "a/ep" || string(got[1].Payload) != "a" {
		t.Fatalf("claim after restart: %+v %v, want c then a", got, err)
	}
}
