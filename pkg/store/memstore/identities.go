package memstore

import (
	"context"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CreateIdentity stores id; store.ErrDuplicate when (issuer, subject) is
// already linked.
func (s *Store) CreateIdentity(_ context.Context, id *store.Identity) error {
	const op = "create identity"
	if id == nil {
		return errNil(op)
	}
	id.CreatedAt = createdTime(id.CreatedAt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.identities == nil {
		s.identities = map[[2]string]*store.Identity{}
	}
	k := [2]string{id.Issuer, id.Subject}
	if _, ok := s.identities[k]; ok {
		return errDup(op)
	}
	c := *id
	s.identities[k] = &c
	return nil
}

// IdentityBySubject returns the link of (issuer, subject), or
// store.ErrNotFound.
func (s *Store) IdentityBySubject(_ context.Context, issuer, subject string) (*store.Identity, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.identities[[2]string{issuer, subject}]
	if !ok {
		return nil, errNotFound("identity by subject")
	}
	c := *id
	return &c, nil
}
