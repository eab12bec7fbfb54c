package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/postgres"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/storetest"
)

// The group commit of InsertMessage (batch.go): one statement per batch,
// and a duplicate fails only its own message.

// wantOutcomes checks each message's outcome: nil, or the error it must
// wrap.
func wantOutcomes(t *testing.T, errs []error, want ...error) {
	t.Helper()
	if len(errs) != len(want) {
		t.Fatalf("%d outcomes, want %d", len(errs), len(want))
	}
	for i, err := range errs {
		switch {
		case want[i] == nil && err != nil:
			t.Errorf("message %d: %v, want nil", i, err)
		case want[i] != nil && !errors.Is(err, want[i]):
			t.Errorf("message %d: %v, want %v", i, err, want[i])
		}
	}
}

// wantStored checks that the room holds exactly these messages (by seq,
// id and body).
func wantStored(ctx context.Context, t *testing.T, s store.Store, room string, want ...*store.Message) {
	t.Helper()
	got, err := s.MessagesAfter(ctx, room, 0, 1000)
	mustNil(t, "MessagesAfter", err)
	if len(got) != len(want) {
		t.Fatalf("room %s holds %d messages, want %d: %+v", room, len(got), len(want), got)
	}
	for i, m := range want {
		if g := got[i]; g.Seq != m.Seq || g.ID != m.ID || g.Body != m.Body || g.From != m.From ||
			g.ClientMsgID != m.ClientMsgID || g.Hole != m.Hole {
			t.Errorf("room %s, message %d: got %+v, want %+v", room, i, g, *m)
		}
	}
}

func TestBatchDuplicateInTheMiddle(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	first := newMessage("r1", 3, "u1")
	mustNil(t, "InsertMessage", s.InsertMessage(ctx, first))

	a, b, c, d := newMessage("r1", 1, "u1"), newMessage("r1", 2, "u2"), newMessage("r1", 4, "u1"), newMessage("r2", 1, "u2")
	sameSeq := newMessage("r1", 3, "u9") // (r1, 3) is taken
	sameSeq.ID, sameSeq.ClientMsgID = "other-id", "other-client-id"
	sameClient := newMessage("r1", 9, "u1") // (u1, c-r1-3) is taken
	sameClient.ID, sameClient.ClientMsgID = "other-id-2", first.ClientMsgID
	sameID := newMessage("r1", 10, "u3") // (r1, m-r1-3) is taken
	sameID.ID = first.ID
	hole := &store.Message{ID: "h-r1-5", RoomID: "r1", Seq: 5, Hole: true, ClientMsgID: "hole-r1-5", From: ""}

	errs := s.InsertBatch(ctx, []*store.Message{a, sameSeq, b, sameClient, hole, sameID, c, d})
	wantOutcomes(t, errs, nil, store.ErrDuplicate, nil, store.ErrDuplicate, nil, store.ErrDuplicate, nil, nil)
	wantStored(ctx, t, s, "r1", a, b, first, c, hole)
	wantStored(ctx, t, s, "r2", d)
	if st, n := s.BatchStats(); st != 2 || n != 9 {
		t.Errorf("BatchStats: %d statements, %d messages; want 2 (the lone first message, then the batch) and 9", st, n)
	}
}

// Messages of one batch that collide with each other: the first in queue
// order wins, the others are duplicates, and each answer is its own.
func TestBatchCollisionsWithinBatch(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	msg := newMessage("r1", 1, "u1")
	tomb := &store.Message{ID: "h-r1-1", RoomID: "r1", Seq: 1, Hole: true, ClientMsgID: "hole-r1-1"}
	retry := newMessage("r1", 2, "u1") // a retried send: same client id, new seq and id
	retry.ID, retry.ClientMsgID = "m-retry", msg.ClientMsgID
	other := newMessage("r1", 3, "u2")
	tomb3 := &store.Message{ID: "h-r1-3", RoomID: "r1", Seq: 3, Hole: true, ClientMsgID: "hole-r1-3"}
	sameID := newMessage("r1", 4, "u3")
	sameID.ID = other.ID
	last := newMessage("r1", 5, "u3")

	errs := s.InsertBatch(ctx, []*store.Message{msg, tomb, retry, other, tomb3, sameID, last})
	wantOutcomes(t, errs, nil, store.ErrDuplicate, store.ErrDuplicate, nil, store.ErrDuplicate, store.ErrDuplicate, nil)
	wantStored(ctx, t, s, "r1", msg, other, last)

	// The tombstone queued first wins the same way.
	errs = s.InsertBatch(ctx, []*store.Message{
		{ID: "h-r2-1", RoomID: "r2", Seq: 1, Hole: true, ClientMsgID: "hole-r2-1"},
		newMessage("r2", 1, "u1"),
	})
	wantOutcomes(t, errs, nil, store.ErrDuplicate)
	got, err := s.LastMessage(ctx, "r2")
	mustNil(t, "LastMessage", err)
	if !got.Hole {
		t.Errorf("r2 seq 1 holds %+v, want the tombstone", got)
	}
}

// Every column of a rich message goes through the batch's arrays, with
// NULLs (no mentions, never edited) among values.
func TestBatchRichFields(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	rich := newMessage("r1", 1, "u1")
	rich.Kind, rich.ReplyTo, rich.Mentions, rich.Extra = store.KindImage, 7, []string{"u2", store.MentionAll}, `{"w": 1}`
	rich.EditedAt, rich.Recalled = time.Date(2024, 1, 2, 3, 4, 5, 6789012, time.UTC), true
	plain := newMessage("r1", 2, "u2")
	event := newMessage("r1", 3, "u1")
	event.Kind, event.Target, event.Extra = store.KindReact, 1, `{"emoji":"👍"}`
	hole := &store.Message{ID: "h-r1-4", RoomID: "r1", Seq: 4, Hole: true, ClientMsgID: "hole-r1-4"}
	other := newMessage("r1", 5, "u3")
	other.Kind, other.Mentions, other.Extra = store.KindCustom, []string{"u1"}, `{"a":[1,2]}`
	want := []*store.Message{rich, plain, event, hole, other}
	errs := s.InsertBatch(ctx, want)
	wantOutcomes(t, errs, nil, nil, nil, nil, nil)
	if st, n := s.BatchStats(); st != 1 || n != 5 {
		t.Errorf("BatchStats: %d statements, %d messages; want 1 and 5", st, n)
	}
	got, err := s.MessagesAfter(ctx, "r1", 0, 10)
	mustNil(t, "MessagesAfter", err)
	if len(got) != len(want) {
		t.Fatalf("%d messages stored, want %d", len(got), len(want))
	}
	for i, m := range want {
		if !reflect.DeepEqual(got[i], *m) {
			t.Errorf("message %d:\n got %+v\nwant %+v", i, got[i], *m)
		}
	}
}

// A message PostgreSQL refuses (a NUL byte in a text column) fails alone;
// the rest of its batch is written.
func TestBatchBadMessageFailsAlone(t *testing.T) {
	s, ctx := openStore(t), testCtx(t)
	bad := newMessage("r1", 2, "u1")
	bad.Body = "nul \x00 byte"
	err := s.InsertMessage(ctx, bad)
	if err == nil || errors.Is(err, store.ErrDuplicate) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("InsertMessage with a NUL byte: %v, want the server's refusal", err)
	}
	a, c := newMessage("r1", 1, "u1"), newMessage("r1", 3, "u1")
	dup := newMessage("r1", 1, "u2")
	dup.ID, dup.ClientMsgID = "x", "y"
	errs := s.InsertBatch(ctx, []*store.Message{a, bad, dup, c})
	if errs[1] == nil || errors.Is(errs[1], store.ErrDuplicate) || errors.Is(errs[1], store.ErrUnavailable) {
		t.Errorf("the bad message: %v, want the server's refusal", errs[1])
	}
	errs[1] = nil
	wantOutcomes(t, errs, nil, nil, store.ErrDuplicate, nil)
	wantStored(ctx, t, s, "r1", a, c)
}

// holdPool takes the only connection of s's pool (MaxConns 1), so that
// the committer blocks and messages queue up; the returned function gives
// it back.
func holdPool(ctx context.Context, t *testing.T, s *postgres.Store) (release func()) {
	t.Helper()
	c, err := s.Pool().Acquire(ctx)
	mustNil(t, "Acquire", err)
	var once sync.Once
	release = func() { once.Do(c.Release) }
	t.Cleanup(release)
	return release
}

// waitStatements waits until the committers have started n statements
// (counted before the statement waits for a connection).
func waitStatements(t *testing.T, s *postgres.Store, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if st, _ := s.BatchStats(); st >= n {
			return
		}
		if time.Now().After(deadline) {
			st, _ := s.BatchStats()
			t.Fatalf("%d statements started, want %d", st, n)
		}
	}
}

// waitQueued waits until n messages wait for the committer.
func waitQueued(t *testing.T, s *postgres.Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); s.QueuedInserts() < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages queued, want %d", s.QueuedInserts(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Through InsertMessage: messages that queue up while the committer is
// busy are written by one statement, each caller getting its own answer.
func TestBatchFormsUnderLoad(t *testing.T) {
	s := openAt(t, testenv.PostgresURL(t), postgres.Options{MaxConns: 1})
	ctx := testCtx(t)
	mustNil(t, "InsertMessage", s.InsertMessage(ctx, newMessage("r0", 1, "u0")))
	release := holdPool(ctx, t, s)

	const n = 50
	ms := make([]*store.Message, n+1) // the first is taken by the committer, the rest queue
	for i := range ms {
		ms[i] = newMessage("r1", int64(i+1), "u1")
	}
	ms[25] = newMessage("r0", 1, "u9") // taken
	ms[25].ID, ms[25].ClientMsgID = "x", "y"
	errs := make([]error, len(ms))
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = s.InsertMessage(ctx, ms[0]) })
	waitStatements(t, s, 2) // the committer took ms[0] and waits for the connection
	for i := 1; i < len(ms); i++ {
		wg.Go(func() { errs[i] = s.InsertMessage(ctx, ms[i]) })
	}
	waitQueued(t, s, n)
	release()
	wg.Wait()
	for i, err := range errs {
		if i == 25 {
			wantErr(t, "the duplicate", err, store.ErrDuplicate)
		} else if err != nil {
			t.Errorf("message %d: %v", i, err)
		}
	}
	got, err := s.CountAfter(ctx, "r1", 0, "")
	mustNil(t, "CountAfter", err)
	if got != n {
		t.Errorf("r1 holds %d messages, want %d", got, n)
	}
	if st, msgs := s.BatchStats(); st != 3 || msgs != n+2 {
		t.Errorf("BatchStats: %d statements, %d messages; want 3 (r0's message, the one taken first, the batch) and %d", st, msgs, n+2)
	}
}

// Many concurrent inserters: each message is written once, and of racing
// inserts of one key exactly one wins, whether or not they share a batch.
func TestBatchConcurrentExactlyOnce(t *testing.T) {
	s := openAt(t, testenv.PostgresURL(t), postgres.Options{MaxConns: 8, InsertCommitters: 4})
	ctx := testCtx(t)
	const racers = 64
	errs := storetest.Race(racers, func(i int) error { // one seq
		m := newMessage("r1", 1, fmt.Sprintf("u%d", i))
		m.ID = fmt.Sprintf("m%d", i)
		return s.InsertMessage(ctx, m)
	})
	storetest.ExactlyOne(t, "racing for (room, seq)", errs)
	errs = storetest.Race(racers, func(i int) error { // one client id
		m := newMessage("r2", int64(i+1), "u1")
		m.ClientMsgID = "same"
		return s.InsertMessage(ctx, m)
	})
	storetest.ExactlyOne(t, "racing for (sender, client_msg_id)", errs)

	const each = 40
	errs = storetest.Race(racers, func(i int) error {
		for k := range each {
			m := newMessage(fmt.Sprintf("room%d", k%7), int64(i*each+k+1), fmt.Sprintf("u%d", i))
			if err := s.InsertMessage(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	for i, err := range errs {
		mustNil(t, fmt.Sprintf("inserter %d", i), err)
	}
	var total int64
	for k := range 7 {
		n, err := s.CountAfter(ctx, fmt.Sprintf("room%d", k), 0, "")
		mustNil(t, "CountAfter", err)
		total += n
	}
	if total != racers*each {
		t.Errorf("%d messages stored, want %d", total, racers*each)
	}
	st, msgs := s.BatchStats()
	t.Logf("%d statements for %d messages (%.1f a statement)", st, msgs, float64(msgs)/float64(st))
}

// A caller whose context ends before its message is handed over gets the
// context's error, and nothing is written.
func TestBatchContextEndsBeforeHandOver(t *testing.T) {
	s := openAt(t, testenv.PostgresURL(t), postgres.Options{MaxConns: 1})
	ctx := testCtx(t)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err := s.InsertMessage(cancelled, newMessage("r1", 1, "u1"))
	wantErr(t, "cancelled before", err, context.Canceled)
	if errors.Is(err, store.ErrUnavailable) {
		t.Errorf("cancelled before: %v is ErrUnavailable", err)
	}

	// A full queue: the committer waits for the held connection with one
	// message, postgres.InsertQueue more wait in the queue.
	release := holdPool(ctx, t, s)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { _ = s.InsertMessage(ctx, newMessage("r2", 1, "u1")) })
	waitStatements(t, s, 1)
	for i := range postgres.InsertQueue {
		wg.Go(func() { _ = s.InsertMessage(ctx, newMessage("r2", int64(i+2), "u1")) })
	}
	waitQueued(t, s, postgres.InsertQueue)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err = s.InsertMessage(short, newMessage("r1", 2, "u1"))
	wantErr(t, "deadline before hand-over (queue full)", err, store.ErrUnavailable)
	release()
	wg.Wait()
	wantStored(ctx, t, s, "r1")
	n, err := s.CountAfter(ctx, "r2", 0, "")
	mustNil(t, "CountAfter", err)
	if n != postgres.InsertQueue+1 {
		t.Errorf("r2 holds %d messages, want %d", n, postgres.InsertQueue+1)
	}
}

// A caller whose context ends once its message was handed over gets
// ErrUnavailable: the message may still be written. Queued and not yet
// taken, it is left out; taken into a statement, it commits.
func TestBatchContextEndsAfterHandOver(t *testing.T) {
	url := testenv.PostgresURL(t)
	s := openAt(t, url, postgres.Options{MaxConns: 1})
	ctx := testCtx(t)

	// Queued behind a busy committer: left out.
	release := holdPool(ctx, t, s)
	var wg sync.WaitGroup
	var first error
	wg.Go(func() { first = s.InsertMessage(ctx, newMessage("r1", 1, "u1")) })
	waitStatements(t, s, 1)
	queued, cancel := context.WithCancel(ctx)
	time.AfterFunc(200*time.Millisecond, cancel)
	err := s.InsertMessage(queued, newMessage("r1", 2, "u1"))
	wantErr(t, "cancelled while queued", err, store.ErrUnavailable)
	wantErr(t, "cancelled while queued", err, context.Canceled)
	release()
	wg.Wait()
	mustNil(t, "the message the committer held", first)
	wantStored(ctx, t, s, "r1", newMessage("r1", 1, "u1"))

	// In a statement that waits for another transaction's row: the caller
	// gives up, the statement goes on, and the message commits when that
	// transaction rolls back.
	other, err := pgx.Connect(ctx, url)
	mustNil(t, "connect", err)
	defer other.Close(ctx)
	tx, err := other.Begin(ctx)
	mustNil(t, "BEGIN", err)
	defer func() { _ = tx.Rollback(ctx) }()
	blocker := newMessage("r1", 3, "u2")
	_, err = tx.Exec(ctx, "INSERT INTO messages (id, room_id, seq, sender, body, client_msg_id, created_at, hole)"+
		" VALUES ($1, $2, $3, $4, $5, $6, now(), false)",
		blocker.ID, blocker.RoomID, blocker.Seq, blocker.From, blocker.Body, blocker.ClientMsgID)
	mustNil(t, "the other transaction's row", err)
	waiting := newMessage("r1", 3, "u1")
	deadline, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel2()
	start := time.Now()
	err = s.InsertMessage(deadline, waiting)
	wantErr(t, "deadline during the statement", err, store.ErrUnavailable)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("answered after %v, want at the 300ms deadline", d)
	}
	mustNil(t, "ROLLBACK", tx.Rollback(ctx))
	for end := time.Now().Add(10 * time.Second); ; {
		if m, err := s.LastMessage(ctx, "r1"); err == nil && m.Seq == 3 {
			if m.From != "u1" {
				t.Fatalf("r1 seq 3 holds %+v, want the message whose caller gave up", m)
			}
			break
		}
		if time.Now().After(end) {
			t.Fatal("the message whose caller gave up during its statement was not written")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Close lets the statement being run finish and fails the messages still
// queued with ErrUnavailable, without writing them.
func TestBatchCloseWithQueuedWork(t *testing.T) {
	url := testenv.PostgresURL(t)
	s, err := postgres.Open(testCtx(t), url, postgres.Options{MaxConns: 1})
	mustNil(t, "Open", err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	ctx := testCtx(t)
	release := holdPool(ctx, t, s)

	const queued = 20
	errs := make([]error, queued+1)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = s.InsertMessage(ctx, newMessage("r1", 1, "u1")) })
	waitStatements(t, s, 1) // taken by the committer, which waits for the connection
	for i := 1; i <= queued; i++ {
		wg.Go(func() { errs[i] = s.InsertMessage(ctx, newMessage("r1", int64(i+1), "u1")) })
	}
	waitQueued(t, s, queued)

	closed := make(chan error, 1)
	go func() { closed <- s.Close(ctx) }()
	for !s.CommittersStopping() {
		time.Sleep(time.Millisecond)
	}
	release()
	mustNil(t, "Close", <-closed)
	wg.Wait()
	mustNil(t, "the message being written at Close", errs[0])
	for i := 1; i <= queued; i++ {
		wantErr(t, fmt.Sprintf("queued message %d", i), errs[i], store.ErrUnavailable)
	}
	wantErr(t, "InsertMessage after Close", s.InsertMessage(ctx, newMessage("r1", 99, "u1")), store.ErrUnavailable)

	s2 := openAt(t, url, postgres.Options{})
	wantStored(ctx, t, s2, "r1", newMessage("r1", 1, "u1"))
}

// A batch on a connection the server ended (57P01, as in a restart): every
// message of it fails with ErrUnavailable, and the next batch, on a new
// connection, is written.
func TestBatchTerminatedConnection(t *testing.T) {
	url := testenv.PostgresURL(t)
	s := openAt(t, url, postgres.Options{MaxConns: 1})
	ctx := testCtx(t)
	c, err := s.Pool().Acquire(ctx)
	mustNil(t, "Acquire", err)
	pid := c.Conn().PgConn().PID()
	c.Release()
	admin, err := pgx.Connect(ctx, url)
	mustNil(t, "connect", err)
	defer admin.Close(ctx)
	var ok bool
	mustNil(t, "pg_terminate_backend", admin.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok))
	if !ok {
		t.Fatal("pg_terminate_backend returned false")
	}
	time.Sleep(100 * time.Millisecond) // let the FATAL message arrive

	a, b, c3 := newMessage("r1", 1, "u1"), newMessage("r1", 2, "u1"), newMessage("r1", 3, "u1")
	errs := s.InsertBatch(ctx, []*store.Message{a, b, c3})
	wantOutcomes(t, errs, store.ErrUnavailable, store.ErrUnavailable, store.ErrUnavailable)
	errs = s.InsertBatch(ctx, []*store.Message{a, b, c3})
	wantOutcomes(t, errs, nil, nil, nil)
	wantStored(ctx, t, s, "r1", a, b, c3)
}
