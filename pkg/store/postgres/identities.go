package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CreateIdentity stores id; store.ErrDuplicate when (issuer, subject) is
// already linked (the primary key).
func (s *Store) CreateIdentity(ctx context.Context, id *store.Identity) error {
	const op = "create identity"
	if id == nil {
		return errNil(op, "identity")
	}
	id.CreatedAt = createdTime(id.CreatedAt)
	_, err := s.exec(ctx, op, qInsertIdentity, id.Issuer, id.Subject, id.UserID, id.CreatedAt)
	return err
}

// IdentityBySubject returns the link of (issuer, subject), or
// store.ErrNotFound.
func (s *Store) IdentityBySubject(ctx context.Context, issuer, subject string) (*store.Identity, error) {
	return queryOne(ctx, s, "identity by subject", scanIdentity, qIdentityBySubject, issuer, subject)
}

func scanIdentity(r pgx.Row) (store.Identity, error) {
	var id store.Identity
	err := r.Scan(&id.Issuer, &id.Subject, &id.UserID, &id.CreatedAt)
	id.CreatedAt = id.CreatedAt.UTC()
	return id, err
}
