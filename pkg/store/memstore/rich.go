package memstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// Keys of the rich message maps.
type (
	roomSeq struct {
		room string
		seq  int64
	}
	userEmoji struct{ user, emoji string }
	userRoom  struct{ user, room string }
)

// copyMessage returns a copy of m that shares no memory with it.
func copyMessage(m *store.Message) store.Message {
	c := *m
	c.Mentions = slices.Clone(m.Mentions)
	return c
}

// messageAt returns the stored message at (room, seq), or nil. The caller
// holds mu.
func (s *Store) messageAt(roomID string, seq int64) *store.Message {
	list := s.msgs[roomID]
	i := sort.Search(len(list), func(i int) bool { return list[i].Seq >= seq })
	if i < len(list) && list[i].Seq == seq {
		return list[i]
	}
	return nil
}

// MessageAt returns the message (or hole) at (room, seq), or
// store.ErrNotFound.
func (s *Store) MessageAt(_ context.Context, roomID string, seq int64) (*store.Message, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if m := s.messageAt(roomID, seq); m != nil {
		c := copyMessage(m)
		return &c, nil
	}
	return nil, errNotFound("message at")
}

// MessagesAt returns the messages of a room at seqs, ascending, each once;
// missing ones are skipped. At most store.MaxSeqs seqs.
func (s *Store) MessagesAt(_ context.Context, roomID string, seqs []int64) ([]store.Message, error) {
	if err := storeutil.CheckSeqs(seqs); err != nil {
		return nil, fmt.Errorf("memstore: messages at: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []store.Message
	for _, seq := range storeutil.UniqueSeqs(seqs) {
		if m := s.messageAt(roomID, seq); m != nil {
			out = append(out, copyMessage(m))
		}
	}
	return out, nil
}

// editable returns the message at (room, seq) that EditMessage and
// RecallMessage may change: store.ErrNotFound if there is none or it is a
// hole or a change event. The caller holds mu.
func (s *Store) editable(op, roomID string, seq int64) (*store.Message, error) {
	m := s.messageAt(roomID, seq)
	if m == nil || m.Hole || m.IsEvent() {
		return nil, errNotFound(op)
	}
	return m, nil
}

// EditMessage replaces the body of the message at (room, seq) and sets
// EditedAt to at (now if zero); store.ErrNotFound if there is no such
// message (or it is a hole or an event), store.ErrRecalled if it was
// recalled.
func (s *Store) EditMessage(_ context.Context, roomID string, seq int64, body string, at time.Time) error {
	const op = "edit message"
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.editable(op, roomID, seq)
	if err != nil {
		return err
	}
	if m.Recalled {
		return fmt.Errorf("memstore: %s: %w", op, storeutil.EditRefusal(m))
	}
	m.Body, m.EditedAt = body, createdTime(at)
	return nil
}

// RecallMessage recalls the message at (room, seq): Recalled set, Body
// and Extra emptied, Mentions removed; store.ErrNotFound as EditMessage.
// Recalling again succeeds.
func (s *Store) RecallMessage(_ context.Context, roomID string, seq int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.editable("recall message", roomID, seq)
	if err != nil {
		return err
	}
	m.Body, m.Extra, m.Mentions, m.Recalled = "", "", nil, true
	return nil
}

// MarkMentioned raises the MentionSeq of the members userIDs of the room
// (all of them for nil) to seq, never lowering it; ids that are not
// members are ignored.
func (s *Store) MarkMentioned(_ context.Context, roomID string, userIDs []string, seq int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	members := s.members[roomID]
	raise := func(m *store.Member) {
		if m != nil {
			m.MentionSeq = max(m.MentionSeq, seq)
		}
	}
	if userIDs == nil {
		for _, m := range members {
			raise(m)
		}
		return nil
	}
	for _, u := range userIDs {
		raise(members[u])
	}
	return nil
}

// AddReaction stores r; store.ErrDuplicate if the user already reacted to
// the message with that emoji. A zero CreatedAt is set to now.
func (s *Store) AddReaction(_ context.Context, r *store.Reaction) error {
	const op = "add reaction"
	if r == nil {
		return errNil(op)
	}
	r.CreatedAt = createdTime(r.CreatedAt)
	k := userEmoji{r.UserID, r.Emoji}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reactions[roomSeq{r.RoomID, r.Seq}][k] != nil {
		return errDup(op)
	}
	c := *r
	addTo(s.reactions, roomSeq{r.RoomID, r.Seq}, k, &c)
	return nil
}

// RemoveReaction deletes one reaction; store.ErrNotFound if absent.
func (s *Store) RemoveReaction(_ context.Context, roomID string, seq int64, userID, emoji string) error {
	k, rs := userEmoji{userID, emoji}, roomSeq{roomID, seq}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reactions[rs][k] == nil {
		return errNotFound("remove reaction")
	}
	removeFrom(s.reactions, rs, k)
	return nil
}

// ReactionCounts returns the reaction counts of the messages at seqs (see
// store.Reactions). At most store.MaxSeqs seqs.
func (s *Store) ReactionCounts(_ context.Context, roomID string, seqs []int64, userID string) (map[int64][]store.ReactionCount, error) {
	if err := storeutil.CheckSeqs(seqs); err != nil {
		return nil, fmt.Errorf("memstore: reaction counts: %w", err)
	}
	s.mu.RLock()
	var rows []storeutil.ReactionRow
	for _, seq := range storeutil.UniqueSeqs(seqs) {
		for _, r := range s.reactions[roomSeq{roomID, seq}] {
			rows = append(rows, storeutil.ReactionRow{Seq: seq, UserID: r.UserID, Emoji: r.Emoji, CreatedAt: r.CreatedAt})
		}
	}
	s.mu.RUnlock()
	return storeutil.CountReactions(rows, userID), nil
}

// Reactors lists the reactions with emoji to (room, seq) by time then user
// id, up to limit of them after afterUser's (see store.Reactions).
func (s *Store) Reactors(_ context.Context, roomID string, seq int64, emoji, afterUser string, limit int) ([]store.Reaction, error) {
	limit = clampLimit(limit)
	s.mu.RLock()
	all := s.reactions[roomSeq{roomID, seq}]
	var cursor *store.Reaction
	if afterUser != "" {
		if cursor = all[userEmoji{afterUser, emoji}]; cursor == nil {
			s.mu.RUnlock()
			return nil, errNotFound("reactors: the cursor's reaction")
		}
	}
	var out []store.Reaction
	for _, r := range all {
		if r.Emoji == emoji {
			out = append(out, *r)
		}
	}
	s.mu.RUnlock()
	less := func(a, b *store.Reaction) bool {
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.UserID < b.UserID
	}
	sort.Slice(out, func(i, j int) bool { return less(&out[i], &out[j]) })
	if cursor != nil {
		out = out[sort.Search(len(out), func(i int) bool { return less(cursor, &out[i]) }):]
	}
	return out[:min(limit, len(out))], nil
}

// HideMessages hides the messages at seqs of the room from userID; hiding
// one again is fine. At most store.MaxSeqs seqs.
func (s *Store) HideMessages(_ context.Context, userID, roomID string, seqs []int64) error {
	if err := storeutil.CheckSeqs(seqs); err != nil {
		return fmt.Errorf("memstore: hide messages: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seq := range seqs {
		addTo(s.hidden, userRoom{userID, roomID}, seq, true)
	}
	return nil
}

// HiddenSeqs returns the seqs in [from, to] the user hid in the room,
// ascending.
func (s *Store) HiddenSeqs(_ context.Context, userID, roomID string, from, to int64) ([]int64, error) {
	s.mu.RLock()
	var out []int64
	for seq := range s.hidden[userRoom{userID, roomID}] {
		if seq >= from && seq <= to {
			out = append(out, seq)
		}
	}
	s.mu.RUnlock()
	slices.Sort(out)
	return out, nil
}

// CreateFile stores f; store.ErrDuplicate if its id exists. A zero
// CreatedAt is set to now.
func (s *Store) CreateFile(_ context.Context, f *store.File) error {
	const op = "create file"
	if f == nil {
		return errNil(op)
	}
	f.CreatedAt = createdTime(f.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files[f.ID] != nil {
		return errDup(op)
	}
	c := *f
	s.files[f.ID] = &c
	return nil
}

// FileByID returns a file, deleted or not, or store.ErrNotFound.
func (s *Store) FileByID(_ context.Context, id string) (*store.File, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if f := s.files[id]; f != nil {
		c := *f
		return &c, nil
	}
	return nil, errNotFound("file by id")
}

// AttachFile records the seq of the message that carries the file, once:
// store.ErrConflict if it is attached to another seq, store.ErrNotFound if
// it is absent or deleted.
func (s *Store) AttachFile(_ context.Context, id string, seq int64) error {
	const op = "attach file"
	if err := storeutil.CheckAttachSeq(seq); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[id]
	if f == nil || f.Deleted || f.MessageSeq != 0 {
		if err := storeutil.AttachRefusal(f, seq); err != nil {
			return fmt.Errorf("memstore: %s: %w", op, err)
		}
		return nil
	}
	f.MessageSeq = seq
	return nil
}

// MarkFileDeleted sets Deleted; store.ErrNotFound if the file is absent.
func (s *Store) MarkFileDeleted(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.files[id]
	if f == nil {
		return errNotFound("mark file deleted")
	}
	f.Deleted = true
	return nil
}

// OrphanFiles returns up to limit files never attached created before the
// given time (to the millisecond), oldest first, then by id. A limit <= 0
// returns none.
func (s *Store) OrphanFiles(_ context.Context, before time.Time, limit int) ([]store.File, error) {
	if limit <= 0 {
		return nil, nil
	}
	before = dbTime(before)
	return s.filesWhere(func(f *store.File) bool { return f.MessageSeq == 0 && f.CreatedAt.Before(before) }, limit), nil
}

// DeleteFile removes a file's record; an absent one is fine.
func (s *Store) DeleteFile(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.files, id)
	return nil
}

// FilesOfMessage returns the files attached to the message at (room, seq),
// oldest first, then by id.
func (s *Store) FilesOfMessage(_ context.Context, roomID string, seq int64) ([]store.File, error) {
	return s.filesWhere(func(f *store.File) bool { return f.RoomID == roomID && f.MessageSeq == seq }, -1), nil
}

// filesWhere returns copies of up to limit (< 0: every) files matching
// keep, oldest first, then by id.
func (s *Store) filesWhere(keep func(*store.File) bool, limit int) []store.File {
	s.mu.RLock()
	var out []store.File
	for _, f := range s.files {
		if keep(f) {
			out = append(out, *f)
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	if limit >= 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}
