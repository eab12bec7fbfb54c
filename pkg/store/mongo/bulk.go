package mongo

import (
	"context"
	"fmt"

	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// InsertMany is the bulk path of loaders such as the benchmark's seeder:
// it writes docs, any mix of *store.User, *store.Room, *store.Member and
// *store.Friendship, with one unordered InsertMany per collection (users,
// rooms, memberships, friendships, in that order), as the Create and
// AddMember methods would store them one by one: times in UTC to the
// millisecond, a zero CreatedAt (or UpdatedAt) set to the current time, a
// friendship's ids sorted. Unlike those methods it leaves docs unchanged.
//
// The unique indexes hold as always: a taken key fails with
// store.ErrDuplicate; the other documents of that collection are still
// inserted, those of the collections after it are not. A nil or
// unsupported element fails before anything is written. No
// Options.OpTimeout applies, as a large load may take long: bound it with
// ctx.
func (s *Store) InsertMany(ctx context.Context, docs []any) error {
	const op = "insert many"
	var users, rooms, members, friendships []any
	for i, d := range docs {
		switch x := d.(type) {
		case *store.User:
			if x == nil {
				return errNil(op, fmt.Sprintf("user at %d", i))
			}
			u := fromUser(x)
			u.CreatedAt = createdTime(u.CreatedAt)
			if u.UpdatedAt.IsZero() {
				u.UpdatedAt = u.CreatedAt
			}
			u.UpdatedAt = dbTime(u.UpdatedAt)
			users = append(users, u)
		case *store.Room:
			if x == nil {
				return errNil(op, fmt.Sprintf("room at %d", i))
			}
			r := fromRoom(x)
			r.CreatedAt = createdTime(r.CreatedAt)
			if r.UpdatedAt.IsZero() {
				r.UpdatedAt = r.CreatedAt
			}
			r.UpdatedAt = dbTime(r.UpdatedAt)
			rooms = append(rooms, r)
		case *store.Member:
			if x == nil {
				return errNil(op, fmt.Sprintf("member at %d", i))
			}
			m := fromMember(x)
			m.CreatedAt = createdTime(m.CreatedAt)
			members = append(members, m)
		case *store.Friendship:
			if x == nil {
				return errNil(op, fmt.Sprintf("friendship at %d", i))
			}
			f := fromFriendship(x)
			f.UserA, f.UserB, _ = store.PairKey(f.UserA, f.UserB)
			f.CreatedAt = createdTime(f.CreatedAt)
			friendships = append(friendships, f)
		default:
			return fmt.Errorf("mongo: %s: cannot store %T at %d", op, d, i)
		}
	}
	for _, b := range []struct {
		coll *mdb.Collection
		docs []any
	}{{s.users, users}, {s.rooms, rooms}, {s.members, members}, {s.friendships, friendships}} {
		if len(b.docs) == 0 {
			continue
		}
		if _, err := b.coll.InsertMany(ctx, b.docs, options.InsertMany().SetOrdered(false)); err != nil {
			return mapErr(op+" into "+b.coll.Name(), err)
		}
	}
	return nil
}
