// Package embeddb runs FerretDB (its sqlite handler) inside the process: a
// MongoDB wire server on a local port, backed by files in a folder. It is
// the store of standalone mode and of the tests when no real MongoDB is
// given.
package embeddb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Server is a running embedded FerretDB.
type Server struct {
	URI    string // mongodb://127.0.0.1:port/
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs FerretDB on dir (created if missing), listening on addr
// (e.g. 127.0.0.1:0). log may be nil to discard FerretDB's own logs.
func Start(dir, addr string, log *slog.Logger) (*Server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embeddb: %w", err)
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + strings.TrimSuffix(dir, "/") + "/",
		Logger:    log,
	})
	if err != nil {
		return nil, fmt.Errorf("embeddb: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cancel: cancel, done: make(chan struct{})}
	go func() { _ = f.Run(ctx); close(s.done) }()
	s.URI = f.MongoDBURI()
	return s, nil
}

// Stop shuts FerretDB down and waits for it.
func (s *Server) Stop() {
	s.cancel()
	<-s.done
}
