package mongo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CreateUser inserts u; store.ErrDuplicate when its id, account or email is
// taken. A zero CreatedAt or UpdatedAt is set to the current time; a
// DeletedAt is kept (and the account waits for ReleaseDeleted).
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	if u == nil {
		return errNil("create user", "user")
	}
	u.CreatedAt = createdTime(u.CreatedAt)
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	u.UpdatedAt = dbTime(u.UpdatedAt)
	if !u.DeletedAt.IsZero() {
		u.DeletedAt = dbTime(u.DeletedAt)
	}
	if !u.LastSeenAt.IsZero() {
		u.LastSeenAt = dbTime(u.LastSeenAt)
	}
	if err := s.insert(ctx, "create user", s.users, fromUser(u)); err != nil {
		return err
	}
	if u.HidePresence {
		if err := s.SetHidePresence(ctx, u.ID, true); err != nil {
			return err
		}
	}
	if !u.LastSeenAt.IsZero() {
		return s.SetLastSeen(ctx, u.ID, u.LastSeenAt)
	}
	return nil
}

// UserByID returns the user with this id, or store.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (*store.User, error) {
	return s.userBy(ctx, "user by id", bson.D{{Key: "_id", Value: id}})
}

// UserByAccount returns the user with this account, or store.ErrNotFound.
func (s *Store) UserByAccount(ctx context.Context, account string) (*store.User, error) {
	return s.userBy(ctx, "user by account", bson.D{{Key: "account", Value: account}})
}

// UserByEmail returns the user with this (lower-cased) email, or
// store.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (*store.User, error) {
	return s.userBy(ctx, "user by email", bson.D{{Key: "email", Value: email}})
}

func (s *Store) userBy(ctx context.Context, op string, filter bson.D) (*store.User, error) {
	var d userDoc
	if err := s.findOne(ctx, op, s.users, filter, &d); err != nil {
		return nil, err
	}
	u := []store.User{d.toUser()}
	if err := s.withPresence(ctx, op, u); err != nil {
		return nil, err
	}
	return &u[0], nil
}

// UsersByIDs returns the users with these ids, in the order of ids, once
// each; unknown ids are skipped. An empty ids returns nil without a query.
func (s *Store) UsersByIDs(ctx context.Context, ids []string) ([]store.User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var docs []userDoc
	err := s.findAll(ctx, "users by ids", s.users, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, &docs)
	if err != nil {
		return nil, err
	}
	found := convertAll(docs, (*userDoc).toUser)
	if err := s.withPresence(ctx, "users by ids", found); err != nil {
		return nil, err
	}
	byID := make(map[string]int, len(found))
	for i, u := range found {
		byID[u.ID] = i
	}
	out := make([]store.User, 0, len(found))
	for _, id := range ids {
		if i, ok := byID[id]; ok {
			out = append(out, found[i])
			delete(byID, id)
		}
	}
	return out, nil
}

// UpdateProfile sets the non-nil fields and updated_at and returns the
// updated user, or store.ErrNotFound. With every field nil it only reads.
func (s *Store) UpdateProfile(ctx context.Context, id string, nickname, avatar *string, sex *int) (*store.User, error) {
	set := bson.D{}
	if nickname != nil {
		set = append(set, bson.E{Key: "nickname", Value: *nickname})
	}
	if avatar != nil {
		set = append(set, bson.E{Key: "avatar", Value: *avatar})
	}
	if sex != nil {
		set = append(set, bson.E{Key: "sex", Value: *sex})
	}
	if len(set) == 0 {
		return s.UserByID(ctx, id)
	}
	set = append(set, bson.E{Key: "updated_at", Value: dbTime(time.Now())})

	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var d userDoc
	err := s.users.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: set}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if err != nil {
		return nil, mapErr("update profile", err)
	}
	u := []store.User{d.toUser()}
	if err := s.withPresence(ctx, "update profile", u); err != nil {
		return nil, err
	}
	return &u[0], nil
}

// passwordLockLease is the longest a SetPasswordHash lock is held: a lock
// whose lease ran out is taken to belong to a crashed caller and is
// broken, and a holder stops working when its lease ends.
const passwordLockLease = 5 * time.Second

// SetPasswordHash replaces the password hash with newHash if it still is
// oldHash, and sets updated_at: store.ErrConflict if it is not,
// store.ErrNotFound if there is no such user. Of racing changes from one
// hash exactly one succeeds.
//
// FerretDB applies an update as a read followed by an unconditional
// replace of the document, so a filter on the old hash alone would let
// racing changes all succeed. The change is therefore made under a lock
// document in CollPasswordLocks, _id "<user>:<sha256 of oldHash>", taken
// with InsertOne (the unique _id is atomic on FerretDB too): a caller that
// finds it taken lost the race and gets store.ErrConflict at once. The
// winner updates with the filter {_id, password: oldHash}, which a caller
// that read the old hash before the winner's change, and takes the lock
// after its release, no longer matches. The lock is deleted when the call
// ends, so that the hash may come back later (A, B, A); one left by a
// crashed caller is broken once its lease (5 s) has ended. The same path
// runs on MongoDB, where the filtered update alone would do.
func (s *Store) SetPasswordHash(ctx context.Context, id, oldHash, newHash string) error {
	const op = "set password hash"
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	byID := bson.D{{Key: "_id", Value: id}}
	var cur userDoc
	err := s.users.FindOne(ctx, byID, options.FindOne().SetProjection(bson.D{{Key: "password", Value: 1}})).Decode(&cur)
	if err != nil {
		return mapErr(op, err)
	}
	if cur.PasswordHash != oldHash {
		return fmt.Errorf("mongo: %s: %w", op, store.ErrConflict)
	}
	sum := sha256.Sum256([]byte(oldHash))
	lock, err := s.lockPassword(ctx, id+":"+hex.EncodeToString(sum[:]))
	if err != nil {
		return fmt.Errorf("mongo: %s: %w", op, err)
	}
	defer s.unlockPassword(ctx, lock)
	// Past the lease another caller may break the lock: stop there.
	ctx, cancelLease := context.WithDeadline(ctx, lock.ExpiresAt)
	defer cancelLease()
	res, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "password", Value: oldHash}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "password", Value: newHash},
			{Key: "updated_at", Value: dbTime(time.Now())},
		}}})
	if err != nil {
		return mapErr(op, err)
	}
	if res.MatchedCount == 0 { // changed since the read
		return fmt.Errorf("mongo: %s: %w", op, store.ErrConflict)
	}
	return nil
}

// lockPassword takes the lock id of CollPasswordLocks, breaking it once if
// its lease has ended; store.ErrConflict when it is held.
func (s *Store) lockPassword(ctx context.Context, id string) (lockDoc, error) {
	const op = "lock password"
	for attempt := 0; ; attempt++ {
		lock := lockDoc{ID: id, ExpiresAt: dbTime(time.Now().Add(passwordLockLease))}
		_, err := s.pwLocks.InsertOne(ctx, lock)
		if err == nil {
			return lock, nil
		}
		if !mdb.IsDuplicateKeyError(err) {
			return lockDoc{}, mapErr(op, err)
		}
		var held lockDoc
		err = s.pwLocks.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&held)
		switch {
		case errors.Is(err, mdb.ErrNoDocuments) && attempt == 0:
			continue // released meanwhile: the holder is done, try once more
		case err != nil && !errors.Is(err, mdb.ErrNoDocuments):
			return lockDoc{}, mapErr(op, err)
		case err == nil && attempt == 0 && time.Now().After(held.ExpiresAt):
			// The holder crashed. Delete that lock only, not one a
			// concurrent breaker may have taken since.
			_, err := s.pwLocks.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "expires_at", Value: held.ExpiresAt}})
			if err != nil {
				return lockDoc{}, mapErr(op+": break stale lock", err)
			}
			continue
		}
		return lockDoc{}, fmt.Errorf("%w: a concurrent change holds the lock", store.ErrConflict)
	}
}

// unlockPassword releases a lock taken by lockPassword, even when ctx has
// ended. A failure is not reported: the lock is broken once its lease
// ends.
func (s *Store) unlockPassword(ctx context.Context, lock lockDoc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opTimeout)
	defer cancel()
	_, _ = s.pwLocks.DeleteOne(ctx, bson.D{{Key: "_id", Value: lock.ID}, {Key: "expires_at", Value: lock.ExpiresAt}})
}

// SetEmail changes the user's email and sets updated_at;
// store.ErrDuplicate when another user has it (the unique index on email),
// store.ErrNotFound if there is no such user.
func (s *Store) SetEmail(ctx context.Context, id, email string) error {
	const op = "set email"
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.users.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "email", Value: email},
		{Key: "updated_at", Value: dbTime(time.Now())},
	}}})
	if err != nil {
		return mapErr(op, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// SetHidePresence sets the presence setting (its own document of
// CollUserPresence); store.ErrNotFound if there is no such user.
func (s *Store) SetHidePresence(ctx context.Context, id string, hide bool) error {
	return s.setPresence(ctx, "set hide presence", presenceDoc{ID: id + "/hide", User: id, Hide: hide})
}

// SetLastSeen sets the last seen time (its own document of
// CollUserPresence; the last write wins); store.ErrNotFound if there is no
// such user.
func (s *Store) SetLastSeen(ctx context.Context, id string, at time.Time) error {
	return s.setPresence(ctx, "set last seen", presenceDoc{ID: id + "/seen", User: id, At: dbTime(at)})
}

// setPresence replaces (or creates) one presence document of an existing
// user. Two racing creations may meet on the unique _id: the loser then
// replaces what the winner created.
func (s *Store) setPresence(ctx context.Context, op string, d presenceDoc) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	var u idDoc
	err := s.users.FindOne(ctx, bson.D{{Key: "_id", Value: d.User}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&u)
	if err != nil {
		return mapErr(op, err)
	}
	byID := bson.D{{Key: "_id", Value: d.ID}}
	_, err = s.presence.ReplaceOne(ctx, byID, d, options.Replace().SetUpsert(true))
	if mdb.IsDuplicateKeyError(err) {
		_, err = s.presence.ReplaceOne(ctx, byID, d)
	}
	return mapErr(op, err)
}

// withPresence fills in the presence fields of users from
// CollUserPresence, in one query.
func (s *Store) withPresence(ctx context.Context, op string, users []store.User) error {
	if len(users) == 0 {
		return nil
	}
	ids := make([]string, 0, 2*len(users))
	at := make(map[string]int, len(users))
	for i, u := range users {
		ids = append(ids, u.ID+"/hide", u.ID+"/seen")
		at[u.ID] = i
	}
	var docs []presenceDoc
	if err := s.findAll(ctx, op+": presence", s.presence, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, &docs); err != nil {
		return err
	}
	for _, d := range docs {
		i, ok := at[d.User]
		if !ok {
			continue
		}
		if strings.HasSuffix(d.ID, "/hide") {
			users[i].HidePresence = d.Hide
		} else {
			users[i].LastSeenAt = d.At
		}
	}
	return nil
}

// MarkDeleted sets deleted_at to at (the current time if zero) unless it is
// set already; store.ErrNotFound if there is no such user. On FerretDB two
// racing first calls with different times may leave either time.
func (s *Store) MarkDeleted(ctx context.Context, id string, at time.Time) error {
	const op = "mark deleted"
	at = createdTime(at)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.users.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "deleted_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "deleted_at", Value: at}, {Key: "release_pending", Value: at}}}})
	if err != nil {
		return mapErr(op, err)
	}
	if res.MatchedCount == 1 {
		return nil
	}
	// Deleted already, or missing.
	var d idDoc
	err = s.users.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Decode(&d)
	return mapErr(op, err)
}

// ReleaseDeleted rewrites the account and email of up to limit users
// deleted before the given time (to the millisecond), oldest deletion
// first, to store.ReleasedAccount and store.ReleasedEmail, and returns how
// many it released. A limit <= 0 releases none. Each user is one update;
// on FerretDB two racing calls may both count a user they both released.
func (s *Store) ReleaseDeleted(ctx context.Context, before time.Time, limit int) (int, error) {
	const op = "release deleted"
	if limit <= 0 {
		return 0, nil
	}
	var due []idDoc
	err := s.findAll(ctx, op, s.users,
		bson.D{{Key: "release_pending", Value: bson.D{{Key: "$lt", Value: dbTime(before)}}}}, &due,
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).
			SetSort(bson.D{{Key: "release_pending", Value: 1}, {Key: "_id", Value: 1}}).
			SetLimit(int64(limit)))
	if err != nil {
		return 0, err
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	released := 0
	for _, id := range ids(due) {
		res, err := s.users.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "release_pending", Value: bson.D{{Key: "$exists", Value: true}}}},
			bson.D{
				{Key: "$set", Value: bson.D{
					{Key: "account", Value: store.ReleasedAccount(id)},
					{Key: "email", Value: store.ReleasedEmail(id)},
				}},
				{Key: "$unset", Value: bson.D{{Key: "release_pending", Value: ""}}},
			})
		if err != nil {
			return released, mapErr(op, err)
		}
		released += int(res.MatchedCount)
	}
	return released, nil
}
