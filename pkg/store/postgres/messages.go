package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// InsertMessage stores m; store.ErrDuplicate when its (room, seq), its
// (room, sender, client_msg_id) or its id within the room exists (message ids
// are unique per room: see migrations/0001_init.sql). Use
// MessageByClientID to tell a client's retry from a lost seq race. An
// empty ClientMsgID is stored as such and takes part in the unique
// constraint, as in store/mongo: callers must give every message a client
// id. A zero CreatedAt is set to the current time; it is normalised in
// place, as EditedAt, and an empty Mentions is set to nil. A nil error means the message is committed. The message is
// written together with the others queued meanwhile (group commit:
// batch.go); a duplicate fails only its own message. If ctx ends once the
// message was handed to a committer, the error is store.ErrUnavailable:
// the message may still commit.
func (s *Store) InsertMessage(ctx context.Context, m *store.Message) error {
	const op = "insert message"
	if m == nil {
		return errNil(op, "message")
	}
	normaliseMessage(m)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	return s.enqueue(ctx, op, m)
}

// normaliseMessage sets m's fields as a read returns them: times in UTC to
// the millisecond (a zero CreatedAt: now), an empty Mentions nil.
func normaliseMessage(m *store.Message) {
	m.CreatedAt, m.EditedAt = createdTime(m.CreatedAt), optTime(m.EditedAt)
	storeutil.NormaliseMentions(m)
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
	return queryAll(ctx, s, "messages after", scanMessage, qMessagesAfter, roomID, after, clampLimit(limit))
}

// MessagesBefore returns up to limit messages of a room with seq < before,
// descending by seq, holes included. Limits are treated as in
// MessagesAfter.
func (s *Store) MessagesBefore(ctx context.Context, roomID string, before int64, limit int) ([]store.Message, error) {
	return queryAll(ctx, s, "messages before", scanMessage, qMessagesBefore, roomID, before, clampLimit(limit))
}

func clampLimit(limit int) int { return storeutil.ClampLimit(limit, DefaultLimit, MaxLimit) }

// LastMessage returns the message (or hole) of a room with the highest
// seq, or store.ErrNotFound when the room has none.
func (s *Store) LastMessage(ctx context.Context, roomID string) (*store.Message, error) {
	return queryOne(ctx, s, "last message", scanMessage, qLastMessage, roomID)
}

// CountAfter counts the messages of a room with seq > after that exclude
// did not send; holes and change events are not counted.
func (s *Store) CountAfter(ctx context.Context, roomID string, after int64, exclude string) (int64, error) {
	n, err := queryOne(ctx, s, "count after", scanInt, qCountAfter, roomID, after, exclude)
	if err != nil {
		return 0, err
	}
	return *n, nil
}

// scanMessage reads the columns messageCols.
func scanMessage(r pgx.Row) (store.Message, error) {
	var m store.Message
	var mentions *string
	var edited *time.Time
	err := r.Scan(&m.ID, &m.RoomID, &m.Seq, &m.From, &m.Body, &m.ClientMsgID, &m.CreatedAt, &m.Hole,
		&m.Kind, &m.ReplyTo, &mentions, &m.Extra, &m.Target, &edited, &m.Recalled)
	if err != nil {
		return m, err
	}
	m.CreatedAt = m.CreatedAt.UTC()
	if edited != nil {
		m.EditedAt = edited.UTC()
	}
	m.Mentions, err = storeutil.DecodeMentions(mentions)
	return m, err
}
