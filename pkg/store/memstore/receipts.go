package memstore

import (
	"context"
	"fmt"
	"sort"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// ReadCounts counts, for each message, the members other than its sender
// whose read mark is at or past its seq.
func (s *Store) ReadCounts(_ context.Context, roomID string, msgs []store.SeqFrom) (map[int64]int64, error) {
	if err := storeutil.CheckSeqFroms(msgs); err != nil {
		return nil, fmt.Errorf("memstore: read counts: %w", err)
	}
	lo := storeutil.MinSeq(msgs)
	s.mu.RLock()
	marks := make([]storeutil.ReadMark, 0, len(s.members[roomID]))
	for _, m := range s.members[roomID] {
		if m.ReadSeq >= lo {
			marks = append(marks, storeutil.ReadMark{UserID: m.UserID, ReadSeq: m.ReadSeq})
		}
	}
	s.mu.RUnlock()
	return storeutil.CountReads(msgs, marks), nil
}

// Readers lists the members whose read mark is at or past seq, by user id.
func (s *Store) Readers(_ context.Context, roomID string, seq int64, exclude, afterUser string, limit int) ([]store.Member, error) {
	limit = clampLimit(limit)
	s.mu.RLock()
	out := make([]store.Member, 0, min(limit, len(s.members[roomID])))
	for _, m := range s.members[roomID] {
		if m.ReadSeq >= seq && m.UserID != exclude && m.UserID > afterUser {
			out = append(out, *m)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// BlockUser stores b; store.ErrDuplicate if it exists.
func (s *Store) BlockUser(_ context.Context, b *store.Block) error {
	const op = "block user"
	if b == nil {
		return errNil(op)
	}
	b.CreatedAt = createdTime(b.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{b.Blocker, b.Blocked}
	if s.blocks[k] != nil {
		return errDup(op)
	}
	c := *b
	s.blocks[k] = &c
	return nil
}

// UnblockUser deletes a block; store.ErrNotFound if absent.
func (s *Store) UnblockUser(_ context.Context, blocker, blocked string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{blocker, blocked}
	if s.blocks[k] == nil {
		return errNotFound("unblock user")
	}
	delete(s.blocks, k)
	return nil
}

// IsBlocked reports whether blocker blocked blocked.
func (s *Store) IsBlocked(_ context.Context, blocker, blocked string) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.blocks[[2]string{blocker, blocked}] != nil, nil
}

// BlocksOf lists the blocks the user is part of, oldest first.
func (s *Store) BlocksOf(_ context.Context, userID string, limit int) ([]store.Block, error) {
	limit = storeutil.ClampLimit(limit, MaxLimit, MaxLimit)
	s.mu.RLock()
	var out []store.Block
	for _, b := range s.blocks {
		if b.Blocker == userID || b.Blocked == userID {
			out = append(out, *b)
		}
	}
	s.mu.RUnlock()
	storeutil.SortBlocks(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
