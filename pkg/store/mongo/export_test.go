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

// Consistency returns the write concern and read preference Open gives
// its client for opts.
func Consistency(opts Options) (w any, rp string, err error) {
	co, err := clientOptions("mongodb://127.0.0.1:1", opts)
	if err != nil {
		return nil, "", err
	}
	return co.WriteConcern.W, co.ReadPreference.Mode().String(), nil
}
