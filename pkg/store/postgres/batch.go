package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// Group commit. Messages are the hot write path. InsertMessage hands its
// message to the committer goroutines (Options.InsertCommitters, one by
// default) through one bounded queue; a committer takes whatever has
// queued up (at most maxBatch messages) and writes it with one statement,
// qInsertMessages, in autocommit: one round trip, one transaction, one
// commit (one WAL flush) for the whole batch. A lone message is written at
// once, as before; under load batches grow by themselves, since what
// arrives while a batch is being written makes the next one.
//
// PostgreSQL already shares a WAL flush between the commits that wait for
// it together, so several committers, each on its own pool connection,
// would not save flushes; they write smaller batches, and each statement
// and commit costs the server CPU (a wake-up, a round trip, WAL records).
// Measured with the database sharing the gateway's 2 CPUs, one committer
// sustained the most messages within the latency bound, two or four
// fewer (BENCHMARKS.md, "PostgreSQL store: group commit").
//
// While one statement runs, the next batch waits: a statement that waits
// for another transaction's row (an insert of the same key, uncommitted)
// holds up the messages behind it, at most until that transaction ends or
// the statement timeout. The store's own writes are single statements in
// autocommit, so such waits last milliseconds.
//
// # Why one INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING RETURNING
//
// A duplicate must fail only its own message. The alternatives, and why
// not:
//
//   - a transaction of single-row INSERTs (pgx.Batch, one round trip): the
//     first unique violation aborts the transaction, and every other
//     message of the batch with it; retrying the rest one by one turns one
//     retried send into a batch's worth of commits;
//   - a savepoint around each row: correct, but three statements a
//     message where there was one, and subtransactions are costly in
//     PostgreSQL;
//   - one multi-row INSERT with ON CONFLICT DO NOTHING and no conflict
//     target (what is done): every unique index of messages is an arbiter,
//     so a row that conflicts with a stored row, on (room, seq), (room, id)
//     or (room, sender, client_msg_id), is skipped instead of failing the
//     statement, and RETURNING room_id, seq names the rows written. A
//     message missing from the answer is a duplicate; no re-check is
//     needed: DO NOTHING skips a row only on a conflict with a committed
//     row (a row of a concurrent transaction is waited for; if that
//     transaction rolls back, the row is inserted).
//
// Two messages of one batch may also collide with each other (a retried
// send still queued behind its first copy, a tombstone written for a seq
// whose message is in the same batch). Then which one wins would depend on
// the order in which PostgreSQL reads the arrays, and (room, seq) would no
// longer name one message: so a statement only ever holds messages whose
// keys are pairwise distinct (split), and the colliders go into a second
// statement run after the first, as if they had queued behind it.
//
// A statement that fails for another reason than the connection (a value
// PostgreSQL refuses, such as a NUL byte in a body, or a deadlock with a
// batch of another committer or node that conflicts with this one in the
// opposite order) is retried one message per statement, so that only the
// faulty message fails. A connection lost or a server restart during the
// statement fails every message of the batch with store.ErrUnavailable:
// the batch may or may not have committed, as for any write whose answer
// is lost, and the callers' retries are safe thanks to the unique
// constraints.
//
// # Contexts, queue, Close
//
// The queue is bounded (insertQueue): a caller that cannot enqueue before
// its context ends gets the context's error (store.ErrUnavailable for a
// deadline, context.Canceled for a cancellation), and nothing is written.
// Once handed over, a message is written with the committer's own context
// (OpTimeout), not the caller's: a caller whose context ends while its
// message waits or is being written gets store.ErrUnavailable (wrapping
// the context's error), since the message may still commit; a message
// whose caller had already given up when its batch was formed is left out.
// Close stops the committers: the batches being written finish (within
// Close's context), the messages still queued fail with
// store.ErrUnavailable and are not written.

const (
	insertQueue = 1024 // messages waiting for a committer
	maxBatch    = 256  // messages in one statement
)

type insertReq struct {
	ctx context.Context
	m   store.Message // a copy: a caller whose context ends returns before its message is written
	err chan error    // buffered: a committer never blocks on it
}

// committers is the group commit's state in a Store.
type committers struct {
	inserts chan *insertReq
	quit    chan struct{} // closed by stop: committers exit
	stopped chan struct{} // closed once every committer has exited
	wg      sync.WaitGroup
	once    sync.Once

	// Statements run and the messages they carried, for the average
	// batch size (tests and benchmarks).
	statements, messages atomic.Int64
}

// startCommitters starts n goroutines that write queued messages.
func (s *Store) startCommitters(n int) {
	c := &s.commit
	c.inserts = make(chan *insertReq, insertQueue)
	c.quit = make(chan struct{})
	c.stopped = make(chan struct{})
	c.wg.Add(n)
	for range n {
		go s.commitLoop()
	}
}

// stopCommitters lets the batches being written finish, waits for the
// committers, and fails what is still queued.
func (s *Store) stopCommitters() {
	c := &s.commit
	if c.quit == nil {
		return
	}
	c.once.Do(func() {
		close(c.quit)
		c.wg.Wait()
		close(c.stopped)
		for {
			select {
			case r := <-c.inserts:
				r.err <- errClosed("insert message")
			default:
				return
			}
		}
	})
}

func errClosed(op string) error {
	return fmt.Errorf("postgres: %s: %w: store is closed", op, store.ErrUnavailable)
}

// enqueue hands a copy of m to the committers and waits for its outcome.
func (s *Store) enqueue(ctx context.Context, op string, m *store.Message) error {
	c := &s.commit
	if s.closed.Load() {
		return errClosed(op)
	}
	if err := ctx.Err(); err != nil {
		return s.mapErr(ctx, op, err) // a select below could still hand it over
	}
	r := &insertReq{ctx: ctx, m: *m, err: make(chan error, 1)}
	select {
	case c.inserts <- r:
	case <-c.quit:
		return errClosed(op)
	case <-ctx.Done():
		// Not handed over: nothing is written.
		return s.mapErr(ctx, op, ctx.Err())
	}
	select {
	case err := <-r.err:
		return err
	case <-ctx.Done():
		select {
		case err := <-r.err: // answered meanwhile
			return err
		default:
		}
		return fmt.Errorf("postgres: %s: %w: the outcome is unknown (the message may still commit): %w",
			op, store.ErrUnavailable, ctx.Err())
	case <-c.stopped:
		// Every committer has exited: an answer sent before is there,
		// else the message was queued too late and is not written.
		select {
		case err := <-r.err:
			return err
		default:
		}
		return errClosed(op)
	}
}

func (s *Store) commitLoop() {
	c := &s.commit
	defer c.wg.Done()
	batch := make([]*insertReq, 0, maxBatch)
	for {
		// Once stopped, take no more batches, even with the queue full
		// (a select picks among ready cases at random).
		select {
		case <-c.quit:
			return
		default:
		}
		select {
		case <-c.quit:
			return
		case r := <-c.inserts:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-c.inserts:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commitBatch(batch)
		clear(batch)
	}
}

// commitBatch writes batch and answers each of its requests. A request
// whose caller already gave up is left out (it was never written).
func (s *Store) commitBatch(batch []*insertReq) {
	const op = "insert message"
	live := make([]*insertReq, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err <- s.mapErr(r.ctx, op, err)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opTimeout)
	defer cancel()
	for len(live) > 0 {
		var part []*insertReq
		part, live = split(live)
		s.insertPart(ctx, op, part)
	}
}

// Keys of the unique constraints of messages.
type (
	roomSeq struct {
		room string
		seq  int64
	}
	roomMsgID struct{ room, id string }
	clientKey struct{ room, sender, clientMsgID string }
)

// split takes the requests of rs, in order, into part, but for those whose
// message shares a unique key with one already taken: those are the rest,
// in order, for a later statement.
func split(rs []*insertReq) (part, rest []*insertReq) {
	if len(rs) == 1 {
		return rs, nil
	}
	seqs := make(map[roomSeq]struct{}, len(rs))
	ids := make(map[roomMsgID]struct{}, len(rs))
	clients := make(map[clientKey]struct{}, len(rs))
	part = make([]*insertReq, 0, len(rs))
	for _, r := range rs {
		a, b, c := roomSeq{r.m.RoomID, r.m.Seq}, roomMsgID{r.m.RoomID, r.m.ID}, clientKey{r.m.RoomID, r.m.From, r.m.ClientMsgID}
		_, dupA := seqs[a]
		_, dupB := ids[b]
		_, dupC := clients[c]
		if dupA || dupB || dupC {
			rest = append(rest, r)
			continue
		}
		seqs[a], ids[b], clients[c] = struct{}{}, struct{}{}, struct{}{}
		part = append(part, r)
	}
	return part, rest
}

// insertPart writes part, whose keys are pairwise distinct, in one
// statement and answers each request.
func (s *Store) insertPart(ctx context.Context, op string, part []*insertReq) {
	written, err := s.insertMessages(ctx, op, part)
	if err != nil {
		if len(part) > 1 && !errors.Is(err, store.ErrUnavailable) {
			// One message's fault, or a deadlock between batches: the
			// statement was rolled back; find out message by message.
			for _, r := range part {
				s.insertPart(ctx, op, []*insertReq{r})
			}
			return
		}
		for _, r := range part {
			r.err <- err
		}
		return
	}
	for i, r := range part {
		if written[i] {
			r.err <- nil
		} else {
			r.err <- fmt.Errorf("postgres: %s: %w: its (room, seq), (room, id) or (room, sender, client_msg_id) is taken",
				op, store.ErrDuplicate)
		}
	}
}

// insertMessages runs qInsertMessages on part and reports which of its
// messages were written.
func (s *Store) insertMessages(ctx context.Context, op string, part []*insertReq) ([]bool, error) {
	cols := newMessageColumns(len(part))
	for i, r := range part {
		cols.set(i, &r.m)
	}
	n := len(part)
	s.commit.statements.Add(1)
	s.commit.messages.Add(int64(n))
	rows, err := s.pool.Query(ctx, qInsertMessages, cols.args()...)
	if err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	defer rows.Close()
	var index map[roomSeq]int
	if n > 1 {
		index = make(map[roomSeq]int, n)
		for i, r := range part {
			index[roomSeq{r.m.RoomID, r.m.Seq}] = i
		}
	}
	written := make([]bool, n)
	var k roomSeq
	for rows.Next() {
		if err := rows.Scan(&k.room, &k.seq); err != nil {
			return nil, s.mapErr(ctx, op, err)
		}
		if n == 1 {
			written[0] = true
		} else if i, ok := index[k]; ok {
			written[i] = true
		}
	}
	// rows.Err is set once the statement, and so its commit, is over:
	// the answer comes after the WAL flush.
	if err := rows.Err(); err != nil {
		return nil, s.mapErr(ctx, op, err)
	}
	return written, nil
}

// messageColumns are the arguments of qInsertMessages: one array a column
// of messages, in the order of messageCols.
type messageColumns struct {
	ids, rooms, senders, bodies, clientIDs, kinds, extras []string
	seqs, replyTo, targets                                []int64
	times                                                 []time.Time
	edited                                                []*time.Time // NULL: never edited
	mentions                                              []*string    // JSON, cast to jsonb; NULL: none
	holes, recalled                                       []bool
}

func newMessageColumns(n int) *messageColumns {
	return &messageColumns{
		ids: make([]string, n), rooms: make([]string, n), senders: make([]string, n), bodies: make([]string, n),
		clientIDs: make([]string, n), kinds: make([]string, n), extras: make([]string, n),
		seqs: make([]int64, n), replyTo: make([]int64, n), targets: make([]int64, n),
		times: make([]time.Time, n), edited: make([]*time.Time, n), mentions: make([]*string, n),
		holes: make([]bool, n), recalled: make([]bool, n),
	}
}

// set puts m in row i.
func (c *messageColumns) set(i int, m *store.Message) {
	c.ids[i], c.rooms[i], c.seqs[i], c.senders[i], c.bodies[i], c.clientIDs[i], c.times[i], c.holes[i] =
		m.ID, m.RoomID, m.Seq, m.From, m.Body, m.ClientMsgID, m.CreatedAt, m.Hole
	c.kinds[i], c.replyTo[i], c.mentions[i], c.extras[i], c.targets[i], c.edited[i], c.recalled[i] =
		m.Kind, m.ReplyTo, storeutil.EncodeMentions(m.Mentions), m.Extra, m.Target, nullIfZero(m.EditedAt), m.Recalled
}

// args are the arguments of qInsertMessages.
func (c *messageColumns) args() []any {
	return []any{c.ids, c.rooms, c.seqs, c.senders, c.bodies, c.clientIDs, c.times, c.holes,
		c.kinds, c.replyTo, c.mentions, c.extras, c.targets, c.edited, c.recalled}
}
