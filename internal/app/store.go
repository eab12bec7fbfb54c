package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

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
