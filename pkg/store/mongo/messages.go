package mongo

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// InsertMessage stores m; store.ErrDuplicate when its id, its (room, seq)
// or its (room, sender, client_msg_id) exists. Use MessageByClientID to tell a
// client's retry from a lost seq race. Note that an empty ClientMsgID is
// stored as such and takes part in the unique index: callers must give
// every message a client id. A zero CreatedAt is set to the current time;
// CreatedAt and EditedAt are normalised in place, and an empty Mentions is
// set to nil.
func (s *Store) InsertMessage(ctx context.Context, m *store.Message) error {
	if m == nil {
		return errNil("insert message", "message")
	}
	m.CreatedAt = createdTime(m.CreatedAt)
	if !m.EditedAt.IsZero() {
		m.EditedAt = dbTime(m.EditedAt)
	}
	storeutil.NormaliseMentions(m)
	return s.insert(ctx, "insert message", s.messages, fromMessage(m))
}

// MessageByClientID returns the message a sender stored in a room under a
// client message id, or store.ErrNotFound. It reads the primary whatever
// the read preference: it decides whether a send is a retry.
func (s *Store) MessageByClientID(ctx context.Context, roomID, from, clientMsgID string) (*store.Message, error) {
	var d messageDoc
	filter := bson.D{{Key: "room_identity", Value: roomID}, {Key: "user_identity", Value: from},
		{Key: "client_msg_id", Value: clientMsgID}}
	if err := s.findOne(ctx, "message by client id", s.primaryMessages, filter, &d); err != nil {
		return nil, err
	}
	m := d.toMessage()
	return &m, nil
}

// MessagesAfter returns up to limit messages of a room with seq > after,
// ascending by seq. A limit <= 0 means DefaultLimit; limits above MaxLimit
// are lowered to it.
func (s *Store) MessagesAfter(ctx context.Context, roomID string, after int64, limit int) ([]store.Message, error) {
	return s.messageRange(ctx, "messages after", roomID, "$gt", after, 1, limit)
}

// MessagesBefore returns up to limit messages of a room with seq < before,
// descending by seq. Limits are treated as in MessagesAfter.
func (s *Store) MessagesBefore(ctx context.Context, roomID string, before int64, limit int) ([]store.Message, error) {
	return s.messageRange(ctx, "messages before", roomID, "$lt", before, -1, limit)
}

func (s *Store) messageRange(ctx context.Context, op, roomID, cmp string, seq int64, dir, limit int) ([]store.Message, error) {
	limit = clampLimit(limit)
	filter := bson.D{
		{Key: "room_identity", Value: roomID},
		{Key: "seq", Value: bson.D{{Key: cmp, Value: seq}}},
	}
	var docs []messageDoc
	err := s.findAll(ctx, op, s.messages, filter, &docs,
		options.Find().SetSort(bson.D{{Key: "seq", Value: dir}}).SetLimit(int64(limit)))
	return convertAll(docs, (*messageDoc).toMessage), err
}

// LastMessage returns the message of a room with the highest seq, or
// store.ErrNotFound when the room has none. It reads the primary whatever
// the read preference: the seq repair of a send raises the counter past it.
func (s *Store) LastMessage(ctx context.Context, roomID string) (*store.Message, error) {
	var d messageDoc
	err := s.findOne(ctx, "last message", s.primaryMessages, bson.D{{Key: "room_identity", Value: roomID}}, &d,
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}}))
	if err != nil {
		return nil, err
	}
	m := d.toMessage()
	return &m, nil
}

// CountAfter counts the messages of a room with seq > after that exclude
// did not send; holes and change events are not counted.
func (s *Store) CountAfter(ctx context.Context, roomID string, after int64, exclude string) (int64, error) {
	filter := bson.D{
		{Key: "room_identity", Value: roomID},
		{Key: "seq", Value: bson.D{{Key: "$gt", Value: after}}},
		{Key: "user_identity", Value: bson.D{{Key: "$ne", Value: exclude}}},
		{Key: "hole", Value: bson.D{{Key: "$ne", Value: true}}},
		{Key: "kind", Value: bson.D{{Key: "$nin", Value: eventKinds}}},
	}
	return s.count(ctx, "count after", s.messages, filter)
}
