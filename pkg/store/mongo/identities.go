package mongo

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CollIdentities holds the links of external identities (issuer, subject)
// to users, unique on (issuer, subject) by index: correctness under
// concurrency rests on that index, not on a read before the insert.
const CollIdentities = "user_identity_link"

type identityDoc struct {
	ID        bson.ObjectID `bson:"_id"`
	Issuer    string        `bson:"issuer"`
	Subject   string        `bson:"subject"`
	UserID    string        `bson:"user_id"`
	CreatedAt time.Time     `bson:"created_at"`
}

// CreateIdentity stores id; store.ErrDuplicate when (issuer, subject) is
// already linked (the unique index).
func (s *Store) CreateIdentity(ctx context.Context, id *store.Identity) error {
	const op = "create identity"
	if id == nil {
		return errNil(op, "identity")
	}
	id.CreatedAt = createdTime(id.CreatedAt)
	return s.insert(ctx, op, s.db.Collection(CollIdentities), identityDoc{
		ID: bson.NewObjectID(), Issuer: id.Issuer, Subject: id.Subject, UserID: id.UserID, CreatedAt: id.CreatedAt,
	})
}

// IdentityBySubject returns the link of (issuer, subject), or
// store.ErrNotFound.
func (s *Store) IdentityBySubject(ctx context.Context, issuer, subject string) (*store.Identity, error) {
	var d identityDoc
	err := s.findOne(ctx, "identity by subject", s.db.Collection(CollIdentities),
		bson.D{{Key: "issuer", Value: issuer}, {Key: "subject", Value: subject}}, &d)
	if err != nil {
		return nil, err
	}
	return &store.Identity{Issuer: d.Issuer, Subject: d.Subject, UserID: d.UserID, CreatedAt: d.CreatedAt.UTC()}, nil
}
