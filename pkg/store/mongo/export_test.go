package mongo

import "context"

// IsFerretDB exposes the server detection to the tests.
func IsFerretDB(ctx context.Context, s *Store) (bool, error) { return s.isFerretDB(ctx) }

// SetServerKind overrides the detection, so that both paths of SetReadSeq
// can be tried on one server.
func SetServerKind(s *Store, ferret bool) {
	s.kindMu.Lock()
	defer s.kindMu.Unlock()
	s.ferret, s.kindKnown = ferret, true
}
