package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// InsertMessage stores m; store.ErrDuplicate when its id, its (room, seq)
// or its (room, sender, client_msg_id) exists. Use MessageByClientID to tell a
// client's retry from a lost seq race. An empty ClientMsgID is stored as
// such and takes part in the unique constraint, as in store/mongo: callers
// must give every message a client id. A zero CreatedAt is set to the
// current time; it is normalised in place, as EditedAt, and an empty
// Mentions is set to nil.
func (s *Store) InsertMessage(ctx context.Context, m *store.Message) error {
	const op = "insert message"
	if m == nil {
		return errNil(op, "message")
	}
	m.CreatedAt, m.EditedAt = createdTime(m.CreatedAt), optTime(m.EditedAt)
	storeutil.NormaliseMentions(m)
	if s.closed.Load() {
		return fmt.Errorf("sqlite: %s: %w: store is closed", op, store.ErrUnavailable)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return s.enqueue(ctx, op, m) // group commit: batch.go
}

// MessageByClientID returns the message a sender stored in a room under a
// client message id, or store.ErrNotFound.
func (s *Store) MessageByClientID(ctx context.Context, roomID, from, clientMsgID string) (*store.Message, error) {
	return queryOne(ctx, s, "message by client id", scanMessage, qMessageByClientID, roomID, from, clientMsgID)
}

// MessagesAfter returns up to limit messages of a room with seq > after,
// ascending by seq, holes included. A limit <= 0 means DefaultLimit;
// limits above MaxLimit are lowered to it.
func (s *Store) MessagesAfter(ctx context.Context, roomID string, after int64, limit int) ([]store.Message, error) {
	return queryAllStmt(ctx, s, "messages after", scanMessage, s.stmts.messagesAfter, roomID, after, clampLimit(limit))
}

// MessagesBefore returns up to limit messages of a room with seq < before,
// descending by seq, holes included. Limits are treated as in
// MessagesAfter.
func (s *Store) MessagesBefore(ctx context.Context, roomID string, before int64, limit int) ([]store.Message, error) {
	return queryAllStmt(ctx, s, "messages before", scanMessage, s.stmts.messagesBefore, roomID, before, clampLimit(limit))
}

func clampLimit(limit int) int { return storeutil.ClampLimit(limit, DefaultLimit, MaxLimit) }

// LastMessage returns the message (or hole) of a room with the highest
// seq, or store.ErrNotFound when the room has none.
func (s *Store) LastMessage(ctx context.Context, roomID string) (*store.Message, error) {
	return queryOneStmt(ctx, s, "last message", scanMessage, s.stmts.lastMessage, roomID)
}

// CountAfter counts the messages of a room with seq > after that exclude
// did not send; holes and change events are not counted.
func (s *Store) CountAfter(ctx context.Context, roomID string, after int64, exclude string) (int64, error) {
	n, err := queryOneStmt(ctx, s, "count after", scanInt, s.stmts.countAfter, roomID, after, exclude)
	if err != nil {
		return 0, err
	}
	return *n, nil
}

// scanMessage reads the columns messageCols.
func scanMessage(r scanner) (store.Message, error) {
	var m store.Message
	var created, hole, recalled int64
	var mentions *string
	var edited sql.NullInt64
	err := r.Scan(&m.ID, &m.RoomID, &m.Seq, &m.From, &m.Body, &m.ClientMsgID, &created, &hole,
		&m.Kind, &m.ReplyTo, &mentions, &m.Extra, &m.Target, &edited, &recalled)
	if err != nil {
		return m, err
	}
	m.CreatedAt, m.EditedAt = fromMillis(created), fromOptMillis(edited)
	m.Hole, m.Recalled = hole != 0, recalled != 0
	m.Mentions, err = storeutil.DecodeMentions(mentions)
	return m, err
}
