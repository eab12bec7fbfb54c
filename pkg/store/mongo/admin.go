package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CollBans holds the admin API's bans, one document per banned user with
// the user id as _id: the _id's unique index is the one-ban-per-user rule,
// so the collection needs no other index.
const CollBans = "user_ban"

// banDoc is a document of CollBans.
type banDoc struct {
	UserID    string    `bson:"_id"`
	Reason    string    `bson:"reason"`
	CreatedAt time.Time `bson:"created_at"`
}

func (d *banDoc) toBan() store.Ban {
	return store.Ban{UserID: d.UserID, Reason: d.Reason, CreatedAt: d.CreatedAt.UTC()}
}

func (s *Store) bansColl() *mdb.Collection { return s.db.Collection(CollBans) }

// PutBan stores b, replacing the user's ban if any: a replace by _id with
// upsert. Two racing upserts may both try the insert; the loser (a
// duplicate _id) replaces the winner's document, so the last write wins.
func (s *Store) PutBan(ctx context.Context, b *store.Ban) error {
	const op = "put ban"
	if b == nil {
		return errNil(op, "ban")
	}
	b.CreatedAt = createdTime(b.CreatedAt)
	doc := banDoc{UserID: b.UserID, Reason: b.Reason, CreatedAt: b.CreatedAt}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	filter := bson.D{{Key: "_id", Value: b.UserID}}
	_, err := s.bansColl().ReplaceOne(ctx, filter, doc, options.Replace().SetUpsert(true))
	if err = mapErr(op, err); errors.Is(err, store.ErrDuplicate) {
		_, err = s.bansColl().ReplaceOne(ctx, filter, doc)
		err = mapErr(op, err)
	}
	return err
}

// DeleteBan removes the user's ban; store.ErrNotFound if none.
func (s *Store) DeleteBan(ctx context.Context, userID string) error {
	return s.deleteOne(ctx, "delete ban", s.bansColl(), bson.D{{Key: "_id", Value: userID}})
}

// BanOf returns the user's ban; store.ErrNotFound if none.
func (s *Store) BanOf(ctx context.Context, userID string) (*store.Ban, error) {
	var d banDoc
	if err := s.findOne(ctx, "ban of", s.bansColl(), bson.D{{Key: "_id", Value: userID}}, &d); err != nil {
		return nil, err
	}
	b := d.toBan()
	return &b, nil
}

// BansOf returns the bans of the banned users among userIDs.
func (s *Store) BansOf(ctx context.Context, userIDs []string) ([]store.Ban, error) {
	if len(userIDs) > store.MaxBanIDs {
		return nil, fmt.Errorf("mongo: bans of: %d ids, at most %d", len(userIDs), store.MaxBanIDs)
	}
	if len(userIDs) == 0 {
		return nil, nil
	}
	var docs []banDoc
	err := s.findAll(ctx, "bans of", s.bansColl(), bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: userIDs}}}}, &docs)
	return convertAll(docs, (*banDoc).toBan), err
}

// UsersPage returns up to limit users with an id above afterID, by id.
func (s *Store) UsersPage(ctx context.Context, afterID string, limit int) ([]store.User, error) {
	const op = "users page"
	var docs []userDoc
	err := s.findAll(ctx, op, s.users, bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: afterID}}}}, &docs,
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(clampLimit(limit))))
	if err != nil {
		return nil, err
	}
	out := convertAll(docs, (*userDoc).toUser)
	if err := s.withPresence(ctx, op, out); err != nil {
		return nil, err
	}
	return out, nil
}

// RoomsPage returns up to limit rooms with an id above afterID, by id.
func (s *Store) RoomsPage(ctx context.Context, afterID string, groupsOnly bool, limit int) ([]store.Room, error) {
	filter := bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: afterID}}}}
	if groupsOnly {
		filter = append(filter, bson.E{Key: "room_type", Value: bson.D{{Key: "$ne", Value: int(store.RoomDirect)}}})
	}
	var docs []roomDoc
	err := s.findAll(ctx, "rooms page", s.rooms, filter, &docs,
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(clampLimit(limit))))
	return convertAll(docs, (*roomDoc).toRoom), err
}
