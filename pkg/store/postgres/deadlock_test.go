package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/postgres"
)

// TestMarkMentionedSurvivesADeadlock builds a real deadlock around a mention
// mark: another transaction holds u2, the mark of u1 and u2 takes u1 and
// waits for u2, then the other transaction asks for u1. PostgreSQL breaks
// the cycle by rolling back the waiter whose deadlock check fires first,
// the mark (it waited first). The store runs the rolled-back statement
// again: the mark succeeds once the other transaction commits, and both
// writes stay. (CI once failed on "deadlock detected (SQLSTATE 40P01)"
// between two racing marks; their rows are now locked in user_id order,
// and this retry is the net for any other lock cycle.)
func TestMarkMentionedSurvivesADeadlock(t *testing.T) {
	url := testenv.PostgresURL(t)
	s, ctx := openAt(t, url, postgres.Options{}), testCtx(t)
	for _, u := range []string{"u1", "u2"} {
		mustNil(t, "AddMember", s.AddMember(ctx, &store.Member{RoomID: "r1", UserID: u, RoomType: store.RoomGroup, CreatedAt: time.Now()}))
	}
	other, err := pgx.Connect(ctx, url)
	mustNil(t, "connect", err)
	defer other.Close(context.Background())
	tx, err := other.Begin(ctx)
	mustNil(t, "begin", err)
	defer tx.Rollback(context.Background())
	_, err = tx.Exec(ctx, "UPDATE members SET read_seq = 7 WHERE room_id = 'r1' AND user_id = 'u2'")
	mustNil(t, "lock u2", err)

	done := make(chan error, 1)
	go func() { done <- s.MarkMentioned(ctx, "r1", []string{"u1", "u2"}, 5) }()
	waitLockWait(ctx, t, url, "UPDATE members SET mention_seq")
	// The cycle: u1 is held by the mark, which waits for u2.
	_, err = tx.Exec(ctx, "UPDATE members SET read_seq = 7 WHERE room_id = 'r1' AND user_id = 'u1'")
	mustNil(t, "the other transaction (the mark must be the deadlock's victim)", err)
	mustNil(t, "commit", tx.Commit(ctx))
	mustNil(t, "MarkMentioned through a deadlock", <-done)
	for _, u := range []string{"u1", "u2"} {
		m, err := s.Member(ctx, "r1", u)
		mustNil(t, "Member", err)
		if m.MentionSeq != 5 || m.ReadSeq != 7 {
			t.Errorf("%s: mention seq %d, read seq %d; want 5 and 7", u, m.MentionSeq, m.ReadSeq)
		}
	}
}

// waitLockWait waits until a statement starting with prefix waits for a
// row lock, watching pg_stat_activity from a connection of its own.
func waitLockWait(ctx context.Context, t *testing.T, url, prefix string) {
	t.Helper()
	c, err := pgx.Connect(ctx, url)
	mustNil(t, "connect", err)
	defer c.Close(context.Background())
	for {
		var n int
		err := c.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"+
			" AND starts_with(query, $1)", prefix).Scan(&n)
		mustNil(t, "pg_stat_activity", err)
		if n > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no statement %q waited for a lock: %v", prefix, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
