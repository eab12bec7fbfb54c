package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/mongo"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/postgres"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/sqlite"
)

// SQLiteFile is the SQLite database's file name in the data folder.
const SQLiteFile = "im.db"

// OpenStore opens the store cfg.Store names, or def when it names none.
// SQLite is a file in cfg.DataDir, for standalone: several processes (API,
// gateways) must share a database server instead.
func OpenStore(ctx context.Context, cfg config.Config, def string) (store.Store, error) {
	kind := cfg.Store
	if kind == "" {
		kind = def
	}
	switch kind {
	case "mongo":
		st, err := mongo.Open(ctx, cfg.MongoURI, cfg.MongoDB, mongo.Options{
			WriteConcern: cfg.MongoWriteConcern, ReadPreference: cfg.MongoReadPreference})
		if err != nil {
			return nil, fmt.Errorf("mongo: %w", err)
		}
		return st, nil
	case "postgres":
		st, err := postgres.Open(ctx, cfg.PostgresURL, postgres.Options{})
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		return st, nil
	case "sqlite":
		if def != "sqlite" {
			return nil, errors.New("IM_STORE=sqlite is for standalone only: the API and the gateways share a database server (mongo or postgres)")
		}
		st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, SQLiteFile), sqlite.Options{Synchronous: cfg.SQLiteSync})
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("unknown store %q", kind)
}

// StoreStartWait is how long a distributed node (the API, a gateway) waits
// at start for a store that is unavailable: not answering yet, or too slow
// to create its indexes (a database started after the node, or starved by
// load). The manifests' startupProbe allows the same 60 s.
const StoreStartWait = 60 * time.Second

// openStoreWaiting is OpenStore, tried again (backing off from 250 ms to
// 5 s, each failure logged) while it fails with store.ErrUnavailable, for
// at most wait. Other errors (a bad URL, a schema newer than this binary)
// end it at once.
func openStoreWaiting(ctx context.Context, cfg config.Config, def string, wait time.Duration, log *zap.Logger) (store.Store, error) {
	if log == nil {
		log = zap.NewNop()
	}
	deadline := time.Now().Add(wait)
	pause := 250 * time.Millisecond
	for try := 1; ; try++ {
		st, err := OpenStore(ctx, cfg, def)
		if err == nil || !errors.Is(err, store.ErrUnavailable) || time.Now().Add(pause).After(deadline) {
			return st, err
		}
		log.Warn("store unavailable at start, trying again", zap.Int("try", try), zap.Duration("in", pause), zap.Error(err))
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil, err
		}
		pause = min(2*pause, 5*time.Second)
	}
}
