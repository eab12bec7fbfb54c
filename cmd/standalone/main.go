// Command standalone runs all of im-websocket-go in one process on one
// port: the REST API, the WebSocket gateway and the web client, over SQLite
// in IM_DATA_DIR and an in-process bus. Nothing else needs to be installed:
//
//	go run ./cmd/standalone                  # serve
//	go run ./cmd/standalone backup FILE      # consistent copy, while it runs
//	go run ./cmd/standalone restore FILE     # replace the data (server stopped)
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/standalone"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 {
		switch args[0] {
		case "backup":
			app.MainArgs("standalone backup", args[1:], backup)
			return
		case "restore":
			app.MainArgs("standalone restore", args[1:], restore)
			return
		}
	}
	app.MainArgs("standalone", args, run)
}

func run(ctx context.Context, cfg config.Config, log *zap.Logger) error {
	if len(cfg.Args) > 0 {
		return fmt.Errorf("unknown command %q (commands: backup FILE, restore FILE)", cfg.Args[0])
	}
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

func oneFile(cfg config.Config) (string, error) {
	if len(cfg.Args) != 1 {
		return "", errors.New("usage: standalone backup|restore [flags] FILE")
	}
	return cfg.Args[0], nil
}

func backup(ctx context.Context, cfg config.Config, _ *zap.Logger) error {
	dst, err := oneFile(cfg)
	if err != nil {
		return err
	}
	if err := standalone.Backup(ctx, cfg, dst); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "backed up %s to %s\n", cfg.DataDir, dst)
	return nil
}

func restore(ctx context.Context, cfg config.Config, _ *zap.Logger) error {
	src, err := oneFile(cfg)
	if err != nil {
		return err
	}
	kept, err := standalone.Restore(ctx, cfg, src)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "restored %s from %s", cfg.DataDir, src)
	if kept != "" {
		fmt.Fprintf(os.Stderr, " (the database it replaced is kept as %s)", kept)
	}
	fmt.Fprintln(os.Stderr)
	return nil
}
