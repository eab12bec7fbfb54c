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

// CollPushTokens holds the push tokens of sessions, one document a token,
// unique on (platform, token) by index: a token belongs to one session,
// and correctness under concurrency rests on that index.
const CollPushTokens = "push_token"

// pushTokenDoc is a document of CollPushTokens. Its _id (an ObjectID the
// server makes on the first insert) is neither written nor read: a
// replacement keeps it.
type pushTokenDoc struct {
	Platform  string    `bson:"platform"`
	Token     string    `bson:"token"`
	UserID    string    `bson:"user_id"`
	SessionID string    `bson:"session_id"`
	CreatedAt time.Time `bson:"created_at"`
}

func (d *pushTokenDoc) toPushToken() store.PushToken {
	return store.PushToken{UserID: d.UserID, SessionID: d.SessionID, Platform: d.Platform, Token: d.Token,
		CreatedAt: d.CreatedAt.UTC()}
}

func (s *Store) pushColl() *mdb.Collection { return s.db.Collection(CollPushTokens) }

func pushTokenKey(platform, token string) bson.D {
	return bson.D{{Key: "platform", Value: platform}, {Key: "token", Value: token}}
}

// AddPushToken stores t, replacing the record of (platform, token): a
// replace with upsert. Two racing upserts may both try the insert; the
// unique index lets one in, and the loser replaces the winner's document,
// so one record stays and the last write wins.
func (s *Store) AddPushToken(ctx context.Context, t *store.PushToken) error {
	const op = "add push token"
	if t == nil {
		return errNil(op, "push token")
	}
	t.CreatedAt = createdTime(t.CreatedAt)
	doc := pushTokenDoc{Platform: t.Platform, Token: t.Token, UserID: t.UserID, SessionID: t.SessionID, CreatedAt: t.CreatedAt}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	filter := pushTokenKey(t.Platform, t.Token)
	_, err := s.pushColl().ReplaceOne(ctx, filter, doc, options.Replace().SetUpsert(true))
	if err = mapErr(op, err); errors.Is(err, store.ErrDuplicate) {
		_, err = s.pushColl().ReplaceOne(ctx, filter, doc)
		err = mapErr(op, err)
	}
	return err
}

// RemovePushToken deletes the user's token; store.ErrNotFound if there is
// none (or it is another user's).
func (s *Store) RemovePushToken(ctx context.Context, userID, platform, token string) error {
	return s.deleteOne(ctx, "remove push token", s.pushColl(),
		append(pushTokenKey(platform, token), bson.E{Key: "user_id", Value: userID}))
}

// RemovePushTokensOfSession deletes every token of the session.
func (s *Store) RemovePushTokensOfSession(ctx context.Context, sessionID string) error {
	_, err := s.deleteMany(ctx, "remove push tokens of session", s.pushColl(), bson.D{{Key: "session_id", Value: sessionID}})
	return err
}

// PushTokensOfSession lists the session's tokens, oldest first (then by
// platform, token).
func (s *Store) PushTokensOfSession(ctx context.Context, sessionID string) ([]store.PushToken, error) {
	var docs []pushTokenDoc
	err := s.findAll(ctx, "push tokens of session", s.pushColl(), bson.D{{Key: "session_id", Value: sessionID}}, &docs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "platform", Value: 1}, {Key: "token", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := convertAll(docs, (*pushTokenDoc).toPushToken)
	if out == nil {
		out = []store.PushToken{}
	}
	return out, nil
}

// PushTokensOf returns the tokens of the users whose session is live at
// now: one query for the users' tokens, one for their sessions that are
// live (by _id).
func (s *Store) PushTokensOf(ctx context.Context, userIDs []string, now time.Time) ([]store.PushToken, error) {
	const op = "push tokens of"
	if len(userIDs) > store.MaxPushTokenUsers {
		return nil, fmt.Errorf("mongo: %s: %d ids, at most %d", op, len(userIDs), store.MaxPushTokenUsers)
	}
	out := []store.PushToken{}
	if len(userIDs) == 0 {
		return out, nil
	}
	var docs []pushTokenDoc
	if err := s.findAll(ctx, op, s.pushColl(), bson.D{{Key: "user_id", Value: bson.D{{Key: "$in", Value: userIDs}}}}, &docs); err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return out, nil
	}
	seen := make(map[string]bool, len(docs))
	sids := make([]string, 0, len(docs))
	for _, d := range docs {
		if !seen[d.SessionID] {
			seen[d.SessionID] = true
			sids = append(sids, d.SessionID)
		}
	}
	var live []idDoc
	err := s.findAll(ctx, op, s.sessions, bson.D{
		{Key: "_id", Value: bson.D{{Key: "$in", Value: sids}}},
		{Key: "revoked", Value: false},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: dbTime(now)}}},
	}, &live, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	isLive := make(map[string]bool, len(live))
	for _, d := range live {
		isLive[d.ID] = true
	}
	for i := range docs {
		if isLive[docs[i].SessionID] {
			out = append(out, docs[i].toPushToken())
		}
	}
	return out, nil
}
