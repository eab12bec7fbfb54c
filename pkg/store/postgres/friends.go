package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CreateFriendship inserts f with its two ids sorted (f is updated in place
// so that UserA < UserB); store.ErrDuplicate if the pair is already friends,
// whichever order the ids were given in. A zero CreatedAt is set to the
// current time; it is normalised in place.
func (s *Store) CreateFriendship(ctx context.Context, f *store.Friendship) error {
	const op = "create friendship"
	if f == nil {
		return errNil(op, "friendship")
	}
	f.UserA, f.UserB, _ = store.PairKey(f.UserA, f.UserB)
	f.CreatedAt = createdTime(f.CreatedAt)
	_, err := s.exec(ctx, op, qCreateFriendship, f.UserA, f.UserB, f.RoomID, f.CreatedAt)
	return err
}

// Friendship returns the friendship of a and b (in any order), or
// store.ErrNotFound.
func (s *Store) Friendship(ctx context.Context, a, b string) (*store.Friendship, error) {
	lo, hi, _ := store.PairKey(a, b)
	return queryOne(ctx, s, "friendship", scanFriendship, qFriendship, lo, hi)
}

// DeleteFriendship deletes the friendship of a and b (in any order);
// store.ErrNotFound if there was none.
func (s *Store) DeleteFriendship(ctx context.Context, a, b string) error {
	lo, hi, _ := store.PairKey(a, b)
	return s.execOne(ctx, "delete friendship", qDeleteFriendship, lo, hi)
}

// FriendshipsOf returns every friendship the user is part of, on either
// side, oldest first (then by the pair).
func (s *Store) FriendshipsOf(ctx context.Context, userID string) ([]store.Friendship, error) {
	return queryAll(ctx, s, "friendships of", scanFriendship, qFriendshipsOf, userID)
}

// CreateFriendRequest inserts r; store.ErrDuplicate if its id or its
// (from, to) pair exists. A request from b to a is a different pair. A zero
// CreatedAt is set to the current time; it is normalised in place.
func (s *Store) CreateFriendRequest(ctx context.Context, r *store.FriendRequest) error {
	const op = "create friend request"
	if r == nil {
		return errNil(op, "friend request")
	}
	r.CreatedAt = createdTime(r.CreatedAt)
	_, err := s.exec(ctx, op, qCreateFriendRequest, r.ID, r.From, r.To, r.Message, r.CreatedAt)
	return err
}

// FriendRequestByID returns a request, or store.ErrNotFound.
func (s *Store) FriendRequestByID(ctx context.Context, id string) (*store.FriendRequest, error) {
	return queryOne(ctx, s, "friend request by id", scanRequest, qFriendRequestByID, id)
}

// FriendRequestBetween returns the request from one user to another (that
// direction only), or store.ErrNotFound.
func (s *Store) FriendRequestBetween(ctx context.Context, from, to string) (*store.FriendRequest, error) {
	return queryOne(ctx, s, "friend request between", scanRequest, qFriendRequestBetween, from, to)
}

// DeleteFriendRequest deletes a request; store.ErrNotFound if there was
// none.
func (s *Store) DeleteFriendRequest(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete friend request", qDeleteFriendRequest, id)
}

// FriendRequestsTo returns the requests a user received, oldest first
// (then by id).
func (s *Store) FriendRequestsTo(ctx context.Context, userID string) ([]store.FriendRequest, error) {
	return queryAll(ctx, s, "friend requests to", scanRequest, qFriendRequestsTo, userID)
}

// FriendRequestsFrom returns the requests a user sent, oldest first (then
// by id).
func (s *Store) FriendRequestsFrom(ctx context.Context, userID string) ([]store.FriendRequest, error) {
	return queryAll(ctx, s, "friend requests from", scanRequest, qFriendRequestsFrom, userID)
}

// scanFriendship reads the columns friendCols.
func scanFriendship(r pgx.Row) (store.Friendship, error) {
	var f store.Friendship
	err := r.Scan(&f.UserA, &f.UserB, &f.RoomID, &f.CreatedAt)
	f.CreatedAt = f.CreatedAt.UTC()
	return f, err
}

// scanRequest reads the columns requestCols.
func scanRequest(r pgx.Row) (store.FriendRequest, error) {
	var q store.FriendRequest
	err := r.Scan(&q.ID, &q.From, &q.To, &q.Message, &q.CreatedAt)
	q.CreatedAt = q.CreatedAt.UTC()
	return q, err
}
