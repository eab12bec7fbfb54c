package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	mdb "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CreateSession stores ss; store.ErrDuplicate if its id exists. A zero
// CreatedAt is set to the current time and a zero LastUsedAt to CreatedAt;
// the times are normalised in place.
func (s *Store) CreateSession(ctx context.Context, ss *store.Session) error {
	const op = "create session"
	if ss == nil {
		return errNil(op, "session")
	}
	ss.CreatedAt = createdTime(ss.CreatedAt)
	if ss.LastUsedAt.IsZero() {
		ss.LastUsedAt = ss.CreatedAt
	}
	ss.LastUsedAt = dbTime(ss.LastUsedAt)
	ss.ExpiresAt = dbTime(ss.ExpiresAt)
	return s.insert(ctx, op, s.sessions, fromSession(ss))
}

// Session returns a session, revoked or not, or store.ErrNotFound.
func (s *Store) Session(ctx context.Context, id string) (*store.Session, error) {
	var d sessionDoc
	if err := s.findOne(ctx, "session", s.sessions, bson.D{{Key: "_id", Value: id}}, &d); err != nil {
		return nil, err
	}
	ss := d.toSession()
	return &ss, nil
}

// SessionsOf returns the user's sessions that are not revoked, oldest
// first (then by id).
func (s *Store) SessionsOf(ctx context.Context, userID string) ([]store.Session, error) {
	var docs []sessionDoc
	err := s.findAll(ctx, "sessions of", s.sessions,
		bson.D{{Key: "user_id", Value: userID}, {Key: "revoked", Value: false}}, &docs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	return convertAll(docs, (*sessionDoc).toSession), err
}

// TouchSession sets LastUsedAt, ExpiresAt and, when ip is not empty, IP;
// store.ErrNotFound if there is no such session.
func (s *Store) TouchSession(ctx context.Context, id string, usedAt, expiresAt time.Time, ip string) error {
	const op = "touch session"
	set := bson.D{
		{Key: "last_used_at", Value: dbTime(usedAt)},
		{Key: "expires_at", Value: dbTime(expiresAt)},
	}
	if ip != "" {
		set = append(set, bson.E{Key: "ip", Value: ip})
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	res, err := s.sessions.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return mapErr(op, err)
	}
	if res.MatchedCount == 0 {
		return fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// PurgeExpired deletes up to limit refresh tokens that expired before the
// given time (to the millisecond), with their used records, and up to limit
// sessions that did, with their revoked-family records (and their push
// tokens), soonest expiry first, and returns how many tokens and sessions
// it deleted. A limit <= 0 deletes nothing.
//
// There are no transactions: each kind is picked by a query on expires_at,
// then its companion records are deleted, then the picked rows (still
// expired) themselves. A failure half way leaves rows that are expired, or
// a token without its used record (which Refresh rejects as expired
// anyway), for the next call.
func (s *Store) PurgeExpired(ctx context.Context, before time.Time, limit int) (int, error) {
	const op = "purge expired"
	if limit <= 0 {
		return 0, nil
	}
	cut := dbTime(before)
	deleted := 0
	for _, k := range []struct {
		coll, companion *mdb.Collection
	}{{s.tokens, s.used}, {s.sessions, s.revoked}} {
		expired := bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: cut}}}}
		var due []idDoc
		err := s.findAll(ctx, op, k.coll, expired, &due,
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).
				SetSort(bson.D{{Key: "expires_at", Value: 1}}).SetLimit(int64(limit)))
		if err != nil || len(due) == 0 {
			if err != nil {
				return deleted, err
			}
			continue
		}
		in := bson.D{{Key: "$in", Value: ids(due)}}
		if _, err := s.deleteMany(ctx, op, k.companion, bson.D{{Key: "_id", Value: in}}); err != nil {
			return deleted, err
		}
		if k.coll == s.sessions {
			if _, err := s.deleteMany(ctx, op, s.pushColl(), bson.D{{Key: "session_id", Value: in}}); err != nil {
				return deleted, err
			}
		}
		n, err := s.deleteMany(ctx, op, k.coll, append(bson.D{{Key: "_id", Value: in}}, expired...))
		if err != nil {
			return deleted, err
		}
		deleted += int(n)
	}
	return deleted, nil
}
