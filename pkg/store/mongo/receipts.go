package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// readMarkDoc is the projection of a membership ReadCounts reads.
type readMarkDoc struct {
	UserID  string `bson:"user_identity"`
	ReadSeq int64  `bson:"read_seq"`
}

// ReadCounts counts, for each message, the members other than its sender
// whose read mark is at or past its seq: one range of the index
// (room_identity, read_seq, user_identity), projected to that index.
func (s *Store) ReadCounts(ctx context.Context, roomID string, msgs []store.SeqFrom) (map[int64]int64, error) {
	const op = "read counts"
	if err := storeutil.CheckSeqFroms(msgs); err != nil {
		return nil, fmt.Errorf("mongo: %s: %w", op, err)
	}
	if len(msgs) == 0 {
		return map[int64]int64{}, nil
	}
	var docs []readMarkDoc
	filter := bson.D{{Key: "room_identity", Value: roomID},
		{Key: "read_seq", Value: bson.D{{Key: "$gte", Value: storeutil.MinSeq(msgs)}}}}
	err := s.findAll(ctx, op, s.members, filter, &docs,
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 0}, {Key: "user_identity", Value: 1}, {Key: "read_seq", Value: 1}}))
	if err != nil {
		return nil, err
	}
	marks := make([]storeutil.ReadMark, len(docs))
	for i, d := range docs {
		marks[i] = storeutil.ReadMark{UserID: d.UserID, ReadSeq: d.ReadSeq}
	}
	return storeutil.CountReads(msgs, marks), nil
}

// Readers lists the members whose read mark is at or past seq, by user id.
func (s *Store) Readers(ctx context.Context, roomID string, seq int64, exclude, afterUser string, limit int) ([]store.Member, error) {
	var docs []memberDoc
	filter := bson.D{{Key: "room_identity", Value: roomID},
		{Key: "user_identity", Value: bson.D{{Key: "$gt", Value: afterUser}, {Key: "$ne", Value: exclude}}},
		{Key: "read_seq", Value: bson.D{{Key: "$gte", Value: seq}}}}
	err := s.findAll(ctx, "readers", s.members, filter, &docs,
		options.Find().SetSort(bson.D{{Key: "user_identity", Value: 1}}).SetLimit(int64(clampLimit(limit))))
	return convertAll(docs, (*memberDoc).toMember), err
}

// blockDoc is a document of CollBlocks.
type blockDoc struct {
	Blocker   string    `bson:"blocker"`
	Blocked   string    `bson:"blocked"`
	CreatedAt time.Time `bson:"created_at"`
}

func (d *blockDoc) toBlock() store.Block {
	return store.Block{Blocker: d.Blocker, Blocked: d.Blocked, CreatedAt: d.CreatedAt.UTC()}
}

// BlockUser stores b; store.ErrDuplicate if it exists (the unique index
// on (blocker, blocked)).
func (s *Store) BlockUser(ctx context.Context, b *store.Block) error {
	if b == nil {
		return errNil("block user", "block")
	}
	b.CreatedAt = createdTime(b.CreatedAt)
	return s.insert(ctx, "block user", s.blocks, blockDoc{Blocker: b.Blocker, Blocked: b.Blocked, CreatedAt: b.CreatedAt})
}

// UnblockUser deletes a block; store.ErrNotFound if absent.
func (s *Store) UnblockUser(ctx context.Context, blocker, blocked string) error {
	return s.deleteOne(ctx, "unblock user", s.blocks, bson.D{{Key: "blocker", Value: blocker}, {Key: "blocked", Value: blocked}})
}

// IsBlocked reports whether blocker blocked blocked.
func (s *Store) IsBlocked(ctx context.Context, blocker, blocked string) (bool, error) {
	n, err := s.count(ctx, "is blocked", s.blocks, bson.D{{Key: "blocker", Value: blocker}, {Key: "blocked", Value: blocked}})
	return n > 0, err
}

// BlocksOf lists the blocks the user is part of, oldest first.
func (s *Store) BlocksOf(ctx context.Context, userID string, limit int) ([]store.Block, error) {
	var docs []blockDoc
	filter := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "blocker", Value: userID}},
		bson.D{{Key: "blocked", Value: userID}},
	}}}
	err := s.findAll(ctx, "blocks of", s.blocks, filter, &docs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "blocker", Value: 1}, {Key: "blocked", Value: 1}}).
			SetLimit(int64(storeutil.ClampLimit(limit, MaxLimit, MaxLimit))))
	return convertAll(docs, (*blockDoc).toBlock), err
}
