package mongo

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CreateFriendship inserts f with its two ids sorted (f is updated in place
// so that UserA < UserB); store.ErrDuplicate if the pair is already friends,
// whichever order the ids were given in. A zero CreatedAt is set to the
// current time.
func (s *Store) CreateFriendship(ctx context.Context, f *store.Friendship) error {
	if f == nil {
		return errNil("create friendship", "friendship")
	}
	f.UserA, f.UserB, _ = store.PairKey(f.UserA, f.UserB)
	f.CreatedAt = createdTime(f.CreatedAt)
	return s.insert(ctx, "create friendship", s.friendships, fromFriendship(f))
}

// Friendship returns the friendship of a and b (in any order), or
// store.ErrNotFound.
func (s *Store) Friendship(ctx context.Context, a, b string) (*store.Friendship, error) {
	var d friendshipDoc
	if err := s.findOne(ctx, "friendship", s.friendships, pairFilter(a, b), &d); err != nil {
		return nil, err
	}
	f := d.toFriendship()
	return &f, nil
}

// DeleteFriendship deletes the friendship of a and b (in any order);
// store.ErrNotFound if there was none.
func (s *Store) DeleteFriendship(ctx context.Context, a, b string) error {
	return s.deleteOne(ctx, "delete friendship", s.friendships, pairFilter(a, b))
}

// FriendshipsOf returns every friendship the user is part of, on either
// side, oldest first.
func (s *Store) FriendshipsOf(ctx context.Context, userID string) ([]store.Friendship, error) {
	var docs []friendshipDoc
	filter := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "user_a", Value: userID}},
		bson.D{{Key: "user_b", Value: userID}},
	}}}
	err := s.findAll(ctx, "friendships of", s.friendships, filter, &docs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "user_a", Value: 1}, {Key: "user_b", Value: 1}}))
	return convertAll(docs, (*friendshipDoc).toFriendship), err
}

func pairFilter(a, b string) bson.D {
	lo, hi, _ := store.PairKey(a, b)
	return bson.D{{Key: "user_a", Value: lo}, {Key: "user_b", Value: hi}}
}

// CreateFriendRequest inserts r; store.ErrDuplicate if its id or its
// (from, to) pair exists. A request from b to a is a different pair. A zero
// CreatedAt is set to the current time.
func (s *Store) CreateFriendRequest(ctx context.Context, r *store.FriendRequest) error {
	if r == nil {
		return errNil("create friend request", "friend request")
	}
	r.CreatedAt = createdTime(r.CreatedAt)
	return s.insert(ctx, "create friend request", s.requests, fromRequest(r))
}

// FriendRequestByID returns a request, or store.ErrNotFound.
func (s *Store) FriendRequestByID(ctx context.Context, id string) (*store.FriendRequest, error) {
	return s.requestBy(ctx, "friend request by id", bson.D{{Key: "_id", Value: id}})
}

// FriendRequestBetween returns the request from one user to another (that
// direction only), or store.ErrNotFound.
func (s *Store) FriendRequestBetween(ctx context.Context, from, to string) (*store.FriendRequest, error) {
	return s.requestBy(ctx, "friend request between", bson.D{{Key: "from", Value: from}, {Key: "to", Value: to}})
}

func (s *Store) requestBy(ctx context.Context, op string, filter bson.D) (*store.FriendRequest, error) {
	var d requestDoc
	if err := s.findOne(ctx, op, s.requests, filter, &d); err != nil {
		return nil, err
	}
	r := d.toRequest()
	return &r, nil
}

// DeleteFriendRequest deletes a request; store.ErrNotFound if there was
// none.
func (s *Store) DeleteFriendRequest(ctx context.Context, id string) error {
	return s.deleteOne(ctx, "delete friend request", s.requests, bson.D{{Key: "_id", Value: id}})
}

// FriendRequestsTo returns the requests a user received, oldest first.
func (s *Store) FriendRequestsTo(ctx context.Context, userID string) ([]store.FriendRequest, error) {
	return s.requestsBy(ctx, "friend requests to", bson.D{{Key: "to", Value: userID}})
}

// FriendRequestsFrom returns the requests a user sent, oldest first.
func (s *Store) FriendRequestsFrom(ctx context.Context, userID string) ([]store.FriendRequest, error) {
	return s.requestsBy(ctx, "friend requests from", bson.D{{Key: "from", Value: userID}})
}

func (s *Store) requestsBy(ctx context.Context, op string, filter bson.D) ([]store.FriendRequest, error) {
	var docs []requestDoc
	err := s.findAll(ctx, op, s.requests, filter, &docs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	return convertAll(docs, (*requestDoc).toRequest), err
}
