package sqlite

import (
	"context"
	"fmt"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// ReadCounts counts, for each message, the members other than its sender
// whose read mark is at or past its seq: one range of members_room_read.
func (s *Store) ReadCounts(ctx context.Context, roomID string, msgs []store.SeqFrom) (map[int64]int64, error) {
	const op = "read counts"
	if err := storeutil.CheckSeqFroms(msgs); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if len(msgs) == 0 {
		return map[int64]int64{}, nil
	}
	marks, err := queryAll(ctx, s, op, scanReadMark, qReadMarks, roomID, storeutil.MinSeq(msgs))
	if err != nil {
		return nil, err
	}
	return storeutil.CountReads(msgs, marks), nil
}

// Readers lists the members whose read mark is at or past seq, by user id.
func (s *Store) Readers(ctx context.Context, roomID string, seq int64, exclude, afterUser string, limit int) ([]store.Member, error) {
	return queryAll(ctx, s, "readers", scanMember, qReaders, roomID, afterUser, seq, exclude, clampLimit(limit))
}

// BlockUser stores b; store.ErrDuplicate if it exists. A zero CreatedAt is
// set to now; it is normalised in place.
func (s *Store) BlockUser(ctx context.Context, b *store.Block) error {
	const op = "block user"
	if b == nil {
		return errNil(op, "block")
	}
	b.CreatedAt = createdTime(b.CreatedAt)
	_, err := s.exec(ctx, op, qBlockUser, b.Blocker, b.Blocked, millis(b.CreatedAt))
	return err
}

// UnblockUser deletes a block; store.ErrNotFound if absent.
func (s *Store) UnblockUser(ctx context.Context, blocker, blocked string) error {
	return s.execOne(ctx, "unblock user", qUnblockUser, blocker, blocked)
}

// IsBlocked reports whether blocker blocked blocked.
func (s *Store) IsBlocked(ctx context.Context, blocker, blocked string) (bool, error) {
	n, err := queryOne(ctx, s, "is blocked", scanInt, qIsBlocked, blocker, blocked)
	if err != nil {
		return false, err
	}
	return *n > 0, nil
}

// BlocksOf lists the blocks the user is part of, oldest first.
func (s *Store) BlocksOf(ctx context.Context, userID string, limit int) ([]store.Block, error) {
	return queryAll(ctx, s, "blocks of", scanBlock, qBlocksOf, userID, blocksLimit(limit))
}

func blocksLimit(limit int) int { return storeutil.ClampLimit(limit, MaxLimit, MaxLimit) }

func scanReadMark(r scanner) (storeutil.ReadMark, error) {
	var m storeutil.ReadMark
	err := r.Scan(&m.UserID, &m.ReadSeq)
	return m, err
}

func scanBlock(r scanner) (store.Block, error) {
	var b store.Block
	var created int64
	err := r.Scan(&b.Blocker, &b.Blocked, &created)
	b.CreatedAt = fromMillis(created)
	return b, err
}
