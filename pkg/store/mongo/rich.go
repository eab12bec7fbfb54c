package mongo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/internal/storeutil"
)

// Rich messages: reading by seq, edit and recall, mentions, reactions,
// delete-for-me and files.
//
// Reactions and hidden messages are documents of their own under unique
// indexes: an insert either wins or fails with a duplicate key, which
// FerretDB enforces under concurrency too, and counts are counted, never
// kept in a counter ($inc is lost under concurrency on FerretDB). The
// writes that change a document (EditMessage, RecallMessage, MarkMentioned,
// AttachFile, MarkFileDeleted) are conditional updates, atomic on MongoDB;
// FerretDB applies an update as a read and a replace of the whole document,
// so there each runs under a lock document, as SetReadSeq does (see there):
// member_lock (shared with SetReadSeq, which writes the same documents),
// message_lock and file_lock.

// eventKinds are the kinds of change events, which CountAfter leaves out
// and EditMessage and RecallMessage refuse.
var eventKinds = bson.A{store.KindEdit, store.KindRecall, store.KindReact, store.KindUnreact}

func messageAtFilter(roomID string, seq int64) bson.D {
	return bson.D{{Key: "room_identity", Value: roomID}, {Key: "seq", Value: seq}}
}

// MessageAt returns the message (or hole, or event) at (room, seq), or
// store.ErrNotFound. It reads the primary whatever the read preference: a
// send's seq release reads what holds the seq.
func (s *Store) MessageAt(ctx context.Context, roomID string, seq int64) (*store.Message, error) {
	var d messageDoc
	if err := s.findOne(ctx, "message at", s.primaryMessages, messageAtFilter(roomID, seq), &d); err != nil {
		return nil, err
	}
	m := d.toMessage()
	return &m, nil
}

// MessagesAt returns the messages of a room at seqs, ascending, each once;
// missing ones are skipped. At most store.MaxSeqs seqs.
func (s *Store) MessagesAt(ctx context.Context, roomID string, seqs []int64) ([]store.Message, error) {
	const op = "messages at"
	if err := storeutil.CheckSeqs(seqs); err != nil {
		return nil, fmt.Errorf("mongo: %s: %w", op, err)
	}
	if len(seqs) == 0 {
		return nil, nil
	}
	filter := bson.D{
		{Key: "room_identity", Value: roomID},
		{Key: "seq", Value: bson.D{{Key: "$in", Value: storeutil.UniqueSeqs(seqs)}}},
	}
	var docs []messageDoc
	err := s.findAll(ctx, op, s.messages, filter, &docs, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	return convertAll(docs, (*messageDoc).toMessage), err
}

// EditMessage replaces the body of the message at (room, seq) and sets
// EditedAt to at (now if zero); store.ErrNotFound if there is no such
// message (or it is a hole or an event), store.ErrRecalled if it was
// recalled. A recall that came first wins.
func (s *Store) EditMessage(ctx context.Context, roomID string, seq int64, body string, at time.Time) error {
	return s.changeMessage(ctx, "edit message", roomID, seq, true, bson.D{{Key: "$set", Value: bson.D{
		{Key: "data", Value: body},
		{Key: "edited_at", Value: createdTime(at)},
	}}})
}

// RecallMessage recalls the message at (room, seq): Recalled set, Body
// and Extra emptied, Mentions removed; store.ErrNotFound as EditMessage.
// Recalling again succeeds.
func (s *Store) RecallMessage(ctx context.Context, roomID string, seq int64) error {
	return s.changeMessage(ctx, "recall message", roomID, seq, false, bson.D{
		{Key: "$set", Value: bson.D{{Key: "data", Value: ""}, {Key: "recalled", Value: true}}},
		{Key: "$unset", Value: bson.D{{Key: "extra", Value: ""}, {Key: "mentions", Value: ""}}},
	})
}

// changeMessage applies update to the message proper (not a hole nor an
// event; with notRecalled, not recalled either) at (room, seq), under the
// message's lock on FerretDB. When nothing matches, it reads the message
// to tell why.
func (s *Store) changeMessage(ctx context.Context, op, roomID string, seq int64, notRecalled bool, update bson.D) error {
	ferret, err := s.isFerretDB(ctx)
	if err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	filter := append(messageAtFilter(roomID, seq),
		bson.E{Key: "hole", Value: bson.D{{Key: "$ne", Value: true}}},
		bson.E{Key: "kind", Value: bson.D{{Key: "$nin", Value: eventKinds}}})
	if notRecalled {
		filter = append(filter, bson.E{Key: "recalled", Value: bson.D{{Key: "$ne", Value: true}}})
	}
	change := func(ctx context.Context) error {
		res, err := s.messages.UpdateOne(ctx, filter, update)
		if err != nil {
			return mapErr(op, err)
		}
		if res.MatchedCount > 0 {
			return nil
		}
		m, err := s.MessageAt(ctx, roomID, seq)
		return storeutil.Refusal("mongo: "+op, m, err, storeutil.EditRefusal)
	}
	if !ferret {
		return change(ctx)
	}
	return s.withLock(ctx, op, s.msgLocks, roomID+"|"+strconv.FormatInt(seq, 10), change)
}

// MarkMentioned raises the MentionSeq of the members userIDs of the room
// (every member for nil) to seq and never lowers it; ids that are not
// members are ignored. On MongoDB it is one UpdateMany with $max. On
// FerretDB the members below seq are raised one by one, each under its
// membership's lock (shared with SetReadSeq).
func (s *Store) MarkMentioned(ctx context.Context, roomID string, userIDs []string, seq int64) error {
	const op = "mark mentioned"
	if userIDs != nil && len(userIDs) == 0 {
		return nil
	}
	ferret, err := s.isFerretDB(ctx)
	if err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	filter := bson.D{{Key: "room_identity", Value: roomID}}
	if userIDs != nil {
		filter = append(filter, bson.E{Key: "user_identity", Value: bson.D{{Key: "$in", Value: userIDs}}})
	}
	if !ferret {
		_, err := s.members.UpdateMany(ctx, filter,
			bson.D{{Key: "$max", Value: bson.D{{Key: "mention_seq", Value: seq}}}})
		return mapErr(op, err)
	}
	var docs []memberDoc
	if err := s.findAll(ctx, op, s.members, filter, &docs); err != nil {
		return err
	}
	for _, d := range docs {
		if d.MentionSeq >= seq {
			continue
		}
		err := s.raiseMemberLocked(ctx, op, roomID, d.UserID, "mention_seq", seq)
		if err != nil && !errors.Is(err, store.ErrNotFound) { // left meanwhile: ignored
			return err
		}
	}
	return nil
}

// AddReaction stores r; store.ErrDuplicate if the user already reacted to
// the message with that emoji (the unique index). A zero CreatedAt is set
// to now; it is normalised in place.
func (s *Store) AddReaction(ctx context.Context, r *store.Reaction) error {
	const op = "add reaction"
	if r == nil {
		return errNil(op, "reaction")
	}
	r.CreatedAt = createdTime(r.CreatedAt)
	return s.insert(ctx, op, s.reactions, fromReaction(r))
}

func reactionFilter(roomID string, seq int64, emoji string) bson.D {
	return bson.D{{Key: "room_identity", Value: roomID}, {Key: "seq", Value: seq}, {Key: "emoji", Value: emoji}}
}

// RemoveReaction deletes one reaction; store.ErrNotFound if absent.
func (s *Store) RemoveReaction(ctx context.Context, roomID string, seq int64, userID, emoji string) error {
	filter := append(reactionFilter(roomID, seq, emoji), bson.E{Key: "user_identity", Value: userID})
	return s.deleteOne(ctx, "remove reaction", s.reactions, filter)
}

// ReactionCounts returns the reaction counts of the messages at seqs (see
// store.Reactions): it reads the reactions of those messages and counts
// them. At most store.MaxSeqs seqs.
func (s *Store) ReactionCounts(ctx context.Context, roomID string, seqs []int64, userID string) (map[int64][]store.ReactionCount, error) {
	const op = "reaction counts"
	if err := storeutil.CheckSeqs(seqs); err != nil {
		return nil, fmt.Errorf("mongo: %s: %w", op, err)
	}
	if len(seqs) == 0 {
		return map[int64][]store.ReactionCount{}, nil
	}
	filter := bson.D{
		{Key: "room_identity", Value: roomID},
		{Key: "seq", Value: bson.D{{Key: "$in", Value: storeutil.UniqueSeqs(seqs)}}},
	}
	var docs []reactionDoc
	if err := s.findAll(ctx, op, s.reactions, filter, &docs); err != nil {
		return nil, err
	}
	return storeutil.CountReactions(convertAll(docs, (*reactionDoc).toRow), userID), nil
}

// Reactors lists the reactions with emoji to (room, seq) by time then user
// id, up to limit of them after afterUser's (see store.Reactions). Limits
// are treated as in MessagesAfter.
func (s *Store) Reactors(ctx context.Context, roomID string, seq int64, emoji, afterUser string, limit int) ([]store.Reaction, error) {
	const op = "reactors"
	filter := reactionFilter(roomID, seq, emoji)
	if afterUser != "" {
		var cursor reactionDoc
		err := s.findOne(ctx, op+": the cursor's reaction", s.reactions,
			append(filter, bson.E{Key: "user_identity", Value: afterUser}), &cursor)
		if err != nil {
			return nil, err
		}
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "created_at", Value: bson.D{{Key: "$gt", Value: cursor.CreatedAt}}}},
			bson.D{{Key: "created_at", Value: cursor.CreatedAt}, {Key: "user_identity", Value: bson.D{{Key: "$gt", Value: afterUser}}}},
		}})
	}
	var docs []reactionDoc
	err := s.findAll(ctx, op, s.reactions, filter, &docs, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "user_identity", Value: 1}}).
		SetLimit(int64(clampLimit(limit))))
	return convertAll(docs, (*reactionDoc).toReaction), err
}

// clampLimit applies DefaultLimit and MaxLimit (as MessagesAfter).
func clampLimit(limit int) int { return storeutil.ClampLimit(limit, DefaultLimit, MaxLimit) }

// HideMessages hides the messages at seqs of the room from userID, with
// one unordered InsertMany; the duplicates of messages hidden already are
// not an error. At most store.MaxSeqs seqs.
func (s *Store) HideMessages(ctx context.Context, userID, roomID string, seqs []int64) error {
	const op = "hide messages"
	if err := storeutil.CheckSeqs(seqs); err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	if len(seqs) == 0 {
		return nil
	}
	seqs = storeutil.UniqueSeqs(seqs)
	docs := make([]any, len(seqs))
	for i, seq := range seqs {
		docs[i] = hiddenDoc{UserID: userID, RoomID: roomID, Seq: seq}
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.hidden.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if onlyDuplicates(err) {
		return nil
	}
	return mapErr(op, err)
}

// onlyDuplicates reports whether err is a bulk write error of duplicate
// keys only.
func onlyDuplicates(err error) bool {
	var bwe mdb.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if !mdb.IsDuplicateKeyError(we) {
			return false
		}
	}
	return true
}

// HiddenSeqs returns the seqs in [from, to] the user hid in the room,
// ascending.
func (s *Store) HiddenSeqs(ctx context.Context, userID, roomID string, from, to int64) ([]int64, error) {
	filter := bson.D{
		{Key: "user_identity", Value: userID},
		{Key: "room_identity", Value: roomID},
		{Key: "seq", Value: bson.D{{Key: "$gte", Value: from}, {Key: "$lte", Value: to}}},
	}
	var docs []hiddenDoc
	err := s.findAll(ctx, "hidden seqs", s.hidden, filter, &docs, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	return convertAll(docs, func(d *hiddenDoc) int64 { return d.Seq }), err
}

// CreateFile stores f; store.ErrDuplicate if its id exists. A zero
// CreatedAt is set to now; it is normalised in place.
func (s *Store) CreateFile(ctx context.Context, f *store.File) error {
	const op = "create file"
	if f == nil {
		return errNil(op, "file")
	}
	f.CreatedAt = createdTime(f.CreatedAt)
	return s.insert(ctx, op, s.files, fromFile(f))
}

// FileByID returns a file, deleted or not, or store.ErrNotFound.
func (s *Store) FileByID(ctx context.Context, id string) (*store.File, error) {
	var d fileDoc
	if err := s.findOne(ctx, "file by id", s.files, bson.D{{Key: "_id", Value: id}}, &d); err != nil {
		return nil, err
	}
	f := d.toFile()
	return &f, nil
}

// AttachFile records the seq of the message that carries the file, once:
// store.ErrConflict if it is attached to another seq, store.ErrNotFound if
// it is absent or deleted. A conditional update (not deleted, message_seq
// 0), under the file's lock on FerretDB, so of racing calls one attaches
// the file; the others read it to tell their answer.
func (s *Store) AttachFile(ctx context.Context, id string, seq int64) error {
	const op = "attach file"
	if err := storeutil.CheckAttachSeq(seq); err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	return s.changeFile(ctx, op, id, func(ctx context.Context) error {
		res, err := s.files.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "message_seq", Value: int64(0)}, {Key: "deleted", Value: false}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "message_seq", Value: seq}}}})
		if err != nil || res.MatchedCount > 0 {
			return mapErr(op, err)
		}
		f, err := s.FileByID(ctx, id)
		return storeutil.Refusal("mongo: "+op, f, err, func(f *store.File) error { return storeutil.AttachRefusal(f, seq) })
	})
}

// MarkFileDeleted sets Deleted; store.ErrNotFound if the file is absent.
func (s *Store) MarkFileDeleted(ctx context.Context, id string) error {
	const op = "mark file deleted"
	return s.changeFile(ctx, op, id, func(ctx context.Context) error {
		res, err := s.files.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "deleted", Value: true}}}})
		if err != nil {
			return mapErr(op, err)
		}
		if res.MatchedCount == 0 {
			return fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
		}
		return nil
	})
}

// changeFile runs change, under the file's lock on FerretDB.
func (s *Store) changeFile(ctx context.Context, op, id string, change func(ctx context.Context) error) error {
	ferret, err := s.isFerretDB(ctx)
	if err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if !ferret {
		return change(ctx)
	}
	return s.withLock(ctx, op, s.fileLocks, id, change)
}

// OrphanFiles returns up to limit files never attached created before the
// given time (to the millisecond), oldest first, then by id. A limit <= 0
// returns none.
func (s *Store) OrphanFiles(ctx context.Context, before time.Time, limit int) ([]store.File, error) {
	if limit <= 0 {
		return nil, nil
	}
	filter := bson.D{
		{Key: "message_seq", Value: int64(0)},
		{Key: "created_at", Value: bson.D{{Key: "$lt", Value: dbTime(before)}}},
	}
	return s.filesWhere(ctx, "orphan files", filter, limit)
}

// DeleteFile removes a file's record; an absent one is fine.
func (s *Store) DeleteFile(ctx context.Context, id string) error {
	_, err := s.deleteMany(ctx, "delete file", s.files, bson.D{{Key: "_id", Value: id}})
	return err
}

// FilesOfMessage returns the files attached to the message at (room, seq),
// oldest first, then by id.
func (s *Store) FilesOfMessage(ctx context.Context, roomID string, seq int64) ([]store.File, error) {
	filter := bson.D{{Key: "room_identity", Value: roomID}, {Key: "message_seq", Value: seq}}
	return s.filesWhere(ctx, "files of message", filter, 0)
}

// filesWhere returns up to limit (0: every) files matching filter, oldest
// first, then by id.
func (s *Store) filesWhere(ctx context.Context, op string, filter bson.D, limit int) ([]store.File, error) {
	var docs []fileDoc
	err := s.findAll(ctx, op, s.files, filter, &docs, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	return convertAll(docs, (*fileDoc).toFile), err
}
