// Command standalone runs all of im-websocket-go in one process on one
// port: the REST API, the WebSocket gateway and the web client, over an
// embedded MongoDB-compatible store (FerretDB, sqlite files in IM_DATA_DIR)
// and an in-process bus. Nothing else needs to be installed:
//
//	go run ./cmd/standalone
package main

import (
	"context"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/standalone"
)

func main() { app.Main("standalone", run) }

func run(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	s, err := standalone.Start(ctx, cfg, standalone.Options{Log: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "\n  im-websocket-go standalone is running: open %s/\n  data folder: %s\n  (Ctrl-C to stop)\n\n", s.URL, cfg.DataDir)
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "stopping...")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	return s.Close(sctx)
}
