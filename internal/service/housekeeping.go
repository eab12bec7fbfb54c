package service

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Housekeeping bounds: one sweep deletes at most sweepBatches batches of
// sweepBatch rows of each kind, so it never holds the store for long; what
// is left waits for the next sweep.
const (
	sweepBatch   = 500
	sweepBatches = 20
)

// SweepStats counts what one sweep did.
type SweepStats struct {
	Purged   int // expired refresh tokens and sessions deleted
	Released int // deleted accounts whose name and email were freed
	Orphans  int // uploaded files never sent, deleted
}

// Sweep does one bounded round of housekeeping: it purges expired refresh
// tokens and sessions, and frees the account names and emails of accounts
// deleted longer than Limits.DeletedGrace ago, and deletes the uploads never
// sent within OrphanAge. Codes need no sweep: they
// live in the KV with a TTL. Several nodes may sweep at once: every step
// is idempotent.
func (s *Service) Sweep(ctx context.Context) (SweepStats, error) {
	var st SweepStats
	now := s.now().UTC()
	for range sweepBatches {
		n, err := s.st.PurgeExpired(ctx, now, sweepBatch)
		st.Purged += n
		if err != nil {
			return st, storeErr("sweep", err)
		}
		if n < sweepBatch {
			break
		}
	}
	for range sweepBatches {
		n, err := s.st.ReleaseDeleted(ctx, now.Add(-s.lim.DeletedGrace), sweepBatch)
		st.Released += n
		if err != nil {
			return st, storeErr("sweep", err)
		}
		if n < sweepBatch {
			break
		}
	}
	for range sweepBatches {
		n, err := s.sweepOrphans(ctx, sweepBatch)
		st.Orphans += n
		if err != nil {
			return st, storeErr("sweep", err)
		}
		if n < sweepBatch {
			break
		}
	}
	return st, nil
}

// RunSweeps calls Sweep every interval until ctx ends.
func (s *Service) RunSweeps(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := s.Sweep(ctx)
		if err != nil {
			s.log.Warn("housekeeping sweep failed", zap.Error(err))
			continue
		}
		if st.Purged+st.Released+st.Orphans > 0 {
			s.log.Info("housekeeping sweep", zap.Int("purged", st.Purged), zap.Int("released", st.Released),
				zap.Int("orphan_files", st.Orphans))
		}
	}
}
