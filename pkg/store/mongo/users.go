package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CreateUser inserts u; store.ErrDuplicate when its id, account or email is
// taken. A zero CreatedAt or UpdatedAt is set to the current time.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	if u == nil {
		return errNil("create user", "user")
	}
	u.CreatedAt = createdTime(u.CreatedAt)
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	u.UpdatedAt = dbTime(u.UpdatedAt)
	return s.insert(ctx, "create user", s.users, fromUser(u))
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
	u := d.toUser()
	return &u, nil
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
	u := d.toUser()
	return &u, nil
}
