package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// Group commit. Messages are the hot write path: every InsertMessage hands
// its message to one committer goroutine, which writes whatever has queued
// up meanwhile in one transaction, so a commit (and, with
// synchronous=FULL, its fsync) is shared by every message in it. A lone
// message is written at once, as before; under load batches grow by
// themselves. The queue is bounded (insertQueue): a caller that cannot
// enqueue before its context ends gets store.ErrUnavailable and nothing is
// written.

const (
	insertQueue = 1024 // messages waiting for the committer
	maxBatch    = 256  // messages in one transaction
)

type insertReq struct {
	ctx context.Context
	m   *store.Message
	err chan error // buffered: the committer never blocks on it
}

// startCommitter starts the goroutine that writes queued messages.
func (s *Store) startCommitter() {
	s.inserts = make(chan *insertReq, insertQueue)
	s.quit = make(chan struct{})
	s.committerDone = make(chan struct{})
	go s.commitLoop()
}

// stopCommitter fails what is still queued and waits for the committer.
func (s *Store) stopCommitter() {
	if s.quit == nil {
		return
	}
	close(s.quit)
	<-s.committerDone
}

// enqueue hands m to the committer and waits for its outcome. When ctx
// ends after the message was handed over, the outcome is unknown (it may
// still commit): store.ErrUnavailable, as for any write whose answer is
// lost.
func (s *Store) enqueue(ctx context.Context, op string, m *store.Message) error {
	r := &insertReq{ctx: ctx, m: m, err: make(chan error, 1)}
	select {
	case s.inserts <- r:
	case <-s.quit:
		return fmt.Errorf("sqlite: %s: %w: store is closed", op, store.ErrUnavailable)
	case <-ctx.Done():
		return s.mapErr(ctx, op, ctx.Err())
	}
	select {
	case err := <-r.err:
		return err
	case <-ctx.Done():
		return s.mapErr(ctx, op, ctx.Err())
	}
}

func (s *Store) commitLoop() {
	defer close(s.committerDone)
	batch := make([]*insertReq, 0, maxBatch)
	for {
		select {
		case <-s.quit:
			s.failQueued()
			return
		case r := <-s.inserts:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-s.inserts:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commitBatch(batch)
		clear(batch)
	}
}

func (s *Store) failQueued() {
	for {
		select {
		case r := <-s.inserts:
			r.err <- fmt.Errorf("sqlite: insert message: %w: store is closed", store.ErrUnavailable)
		default:
			return
		}
	}
}

// commitBatch writes batch in one transaction. A request whose caller
// already gave up is left out (it was never written). If the transaction
// fails on a unique constraint, each message is written again on its own,
// so that only the duplicate fails.
func (s *Store) commitBatch(batch []*insertReq) {
	const op = "insert message"
	live := batch[:0:0]
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
	if len(live) > 1 {
		err := s.inTx(ctx, op, func(tx *sql.Tx) error {
			st := tx.StmtContext(ctx, s.stmts.insertMessage)
			for _, r := range live {
				if _, err := st.ExecContext(ctx, messageArgs(r.m)...); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil || !errors.Is(err, store.ErrDuplicate) {
			for _, r := range live {
				r.err <- err
			}
			return
		}
	}
	for _, r := range live {
		_, err := s.execStmt(ctx, op, s.stmts.insertMessage, messageArgs(r.m)...)
		r.err <- err
	}
}

// messageArgs are the values of qInsertMessage, in the order of
// messageCols.
func messageArgs(m *store.Message) []any {
	return []any{m.ID, m.RoomID, m.Seq, m.From, m.Body, m.ClientMsgID, millis(m.CreatedAt), boolInt(m.Hole),
		m.Kind, m.ReplyTo, storeutil.EncodeMentions(m.Mentions), m.Extra, m.Target, optMillis(m.EditedAt),
		boolInt(m.Recalled)}
}
