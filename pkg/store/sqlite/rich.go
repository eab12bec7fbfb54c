package sqlite

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// Rich messages: reading by seq, edit and recall, mentions, reactions,
// delete-for-me and files. Lists (seqs, user ids) are passed to SQLite as
// one JSON array parameter read with json_each, so that each statement is
// a constant of queries.go whatever the list's length.

// MessageAt returns the message (or hole, or event) at (room, seq), or
// store.ErrNotFound.
func (s *Store) MessageAt(ctx context.Context, roomID string, seq int64) (*store.Message, error) {
	return queryOne(ctx, s, "message at", scanMessage, qMessageAt, roomID, seq)
}

// MessagesAt returns the messages of a room at seqs, ascending, each once;
// missing ones are skipped. At most store.MaxSeqs seqs.
func (s *Store) MessagesAt(ctx context.Context, roomID string, seqs []int64) ([]store.Message, error) {
	const op = "messages at"
	if err := storeutil.CheckSeqs(seqs); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if len(seqs) == 0 {
		return nil, nil
	}
	return queryAllStmt(ctx, s, op, scanMessage, s.stmts.messagesAt, roomID, storeutil.JSONArray(seqs))
}

// EditMessage replaces the body of the message at (room, seq) and sets
// EditedAt to at (now if zero); store.ErrNotFound if there is no such
// message (or it is a hole or an event), store.ErrRecalled if it was
// recalled. One conditional UPDATE: a recall that committed first wins.
func (s *Store) EditMessage(ctx context.Context, roomID string, seq int64, body string, at time.Time) error {
	const op = "edit message"
	n, err := s.exec(ctx, op, qEditMessage, body, millis(createdTime(at)), roomID, seq)
	if err != nil || n > 0 {
		return err
	}
	m, err := s.MessageAt(ctx, roomID, seq)
	return storeutil.Refusal("sqlite: "+op, m, err, storeutil.EditRefusal)
}

// RecallMessage recalls the message at (room, seq): Recalled set, Body
// and Extra emptied, Mentions removed; store.ErrNotFound as EditMessage.
// Recalling again succeeds.
func (s *Store) RecallMessage(ctx context.Context, roomID string, seq int64) error {
	return s.execOne(ctx, "recall message", qRecallMessage, roomID, seq)
}

// MarkMentioned raises the MentionSeq of the members userIDs of the room
// (every member for nil) to seq and never lowers it, in one UPDATE; ids
// that are not members are ignored.
func (s *Store) MarkMentioned(ctx context.Context, roomID string, userIDs []string, seq int64) error {
	const op = "mark mentioned"
	var err error
	switch {
	case userIDs == nil:
		_, err = s.exec(ctx, op, qMarkMentionedAll, seq, roomID)
	case len(userIDs) > 0:
		_, err = s.exec(ctx, op, qMarkMentioned, seq, roomID, storeutil.JSONArray(userIDs))
	}
	return err
}

// AddReaction stores r; store.ErrDuplicate if the user already reacted to
// the message with that emoji. A zero CreatedAt is set to now; it is
// normalised in place.
func (s *Store) AddReaction(ctx context.Context, r *store.Reaction) error {
	const op = "add reaction"
	if r == nil {
		return errNil(op, "reaction")
	}
	r.CreatedAt = createdTime(r.CreatedAt)
	_, err := s.exec(ctx, op, qAddReaction, r.RoomID, r.Seq, r.UserID, r.Emoji, millis(r.CreatedAt))
	return err
}

// RemoveReaction deletes one reaction; store.ErrNotFound if absent.
func (s *Store) RemoveReaction(ctx context.Context, roomID string, seq int64, userID, emoji string) error {
	return s.execOne(ctx, "remove reaction", qRemoveReaction, roomID, seq, emoji, userID)
}

// ReactionCounts returns the reaction counts of the messages at seqs (see
// store.Reactions), counted by one grouped query. At most store.MaxSeqs
// seqs.
func (s *Store) ReactionCounts(ctx context.Context, roomID string, seqs []int64, userID string) (map[int64][]store.ReactionCount, error) {
	const op = "reaction counts"
	if err := storeutil.CheckSeqs(seqs); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	out := map[int64][]store.ReactionCount{}
	if len(seqs) == 0 {
		return out, nil
	}
	rows, err := queryAllStmt(ctx, s, op, scanReactionCount, s.stmts.reactionCounts,
		roomID, storeutil.JSONArray(seqs), userID)
	for _, r := range rows {
		out[r.seq] = append(out[r.seq], r.count)
	}
	return out, err
}

// seqCount is a row of qReactionCounts.
type seqCount struct {
	seq   int64
	count store.ReactionCount
}

func scanReactionCount(r scanner) (seqCount, error) {
	var c seqCount
	var mine, first int64
	err := r.Scan(&c.seq, &c.count.Emoji, &c.count.Count, &mine, &first)
	c.count.Mine = mine != 0
	return c, err
}

// Reactors lists the reactions with emoji to (room, seq) by time then user
// id, up to limit of them after afterUser's (see store.Reactions). Limits
// are treated as in MessagesAfter.
func (s *Store) Reactors(ctx context.Context, roomID string, seq int64, emoji, afterUser string, limit int) ([]store.Reaction, error) {
	const op = "reactors"
	after := int64(math.MinInt64) // before any reaction
	if afterUser != "" {
		t, err := queryOne(ctx, s, op+": the cursor's reaction", scanInt, qReactionTime, roomID, seq, emoji, afterUser)
		if err != nil {
			return nil, err
		}
		after = *t
	}
	return queryAll(ctx, s, op, scanReaction, qReactors, roomID, seq, emoji, after, afterUser, clampLimit(limit))
}

// scanReaction reads the columns reactionCols.
func scanReaction(r scanner) (store.Reaction, error) {
	var x store.Reaction
	var created int64
	err := r.Scan(&x.RoomID, &x.Seq, &x.UserID, &x.Emoji, &created)
	x.CreatedAt = fromMillis(created)
	return x, err
}

// HideMessages hides the messages at seqs of the room from userID, in one
// statement; hiding one again is fine. At most store.MaxSeqs seqs.
func (s *Store) HideMessages(ctx context.Context, userID, roomID string, seqs []int64) error {
	const op = "hide messages"
	if err := storeutil.CheckSeqs(seqs); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if len(seqs) == 0 {
		return nil
	}
	_, err := s.exec(ctx, op, qHideMessages, userID, roomID, storeutil.JSONArray(seqs))
	return err
}

// HiddenSeqs returns the seqs in [from, to] the user hid in the room,
// ascending.
func (s *Store) HiddenSeqs(ctx context.Context, userID, roomID string, from, to int64) ([]int64, error) {
	return queryAllStmt(ctx, s, "hidden seqs", scanInt, s.stmts.hiddenSeqs, userID, roomID, from, to)
}

// CreateFile stores f; store.ErrDuplicate if its id exists. A zero
// CreatedAt is set to now; it is normalised in place.
func (s *Store) CreateFile(ctx context.Context, f *store.File) error {
	const op = "create file"
	if f == nil {
		return errNil(op, "file")
	}
	f.CreatedAt = createdTime(f.CreatedAt)
	_, err := s.exec(ctx, op, qCreateFile, f.ID, f.RoomID, f.UploaderID, f.Name, f.Size, f.ContentType,
		f.Width, f.Height, f.Key, f.ThumbKey, f.ThumbType, millis(f.CreatedAt), f.MessageSeq, boolInt(f.Deleted))
	return err
}

// FileByID returns a file, deleted or not, or store.ErrNotFound.
func (s *Store) FileByID(ctx context.Context, id string) (*store.File, error) {
	return queryOne(ctx, s, "file by id", scanFile, qFileByID, id)
}

// AttachFile records the seq of the message that carries the file, once:
// store.ErrConflict if it is attached to another seq, store.ErrNotFound if
// it is absent or deleted. One conditional UPDATE, so of racing calls one
// attaches the file; the others read it to tell their answer.
func (s *Store) AttachFile(ctx context.Context, id string, seq int64) error {
	const op = "attach file"
	if err := storeutil.CheckAttachSeq(seq); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	n, err := s.exec(ctx, op, qAttachFile, seq, id)
	if err != nil || n > 0 {
		return err
	}
	f, err := s.FileByID(ctx, id)
	return storeutil.Refusal("sqlite: "+op, f, err, func(f *store.File) error { return storeutil.AttachRefusal(f, seq) })
}

// MarkFileDeleted sets Deleted; store.ErrNotFound if the file is absent.
func (s *Store) MarkFileDeleted(ctx context.Context, id string) error {
	return s.execOne(ctx, "mark file deleted", qMarkFileDeleted, id)
}

// OrphanFiles returns up to limit files never attached created before the
// given time (to the millisecond), oldest first, then by id. A limit <= 0
// returns none.
func (s *Store) OrphanFiles(ctx context.Context, before time.Time, limit int) ([]store.File, error) {
	if limit <= 0 {
		return nil, nil
	}
	return queryAll(ctx, s, "orphan files", scanFile, qOrphanFiles, millis(dbTime(before)), limit)
}

// DeleteFile removes a file's record; an absent one is fine.
func (s *Store) DeleteFile(ctx context.Context, id string) error {
	_, err := s.exec(ctx, "delete file", qDeleteFile, id)
	return err
}

// FilesOfMessage returns the files attached to the message at (room, seq),
// oldest first, then by id.
func (s *Store) FilesOfMessage(ctx context.Context, roomID string, seq int64) ([]store.File, error) {
	return queryAll(ctx, s, "files of message", scanFile, qFilesOfMessage, roomID, seq)
}

// scanFile reads the columns fileCols.
func scanFile(r scanner) (store.File, error) {
	var f store.File
	var created, deleted int64
	err := r.Scan(&f.ID, &f.RoomID, &f.UploaderID, &f.Name, &f.Size, &f.ContentType, &f.Width, &f.Height,
		&f.Key, &f.ThumbKey, &f.ThumbType, &created, &f.MessageSeq, &deleted)
	f.CreatedAt, f.Deleted = fromMillis(created), deleted != 0
	return f, err
}
