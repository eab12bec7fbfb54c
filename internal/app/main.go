package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
)

// Main is the body of every command: it reads the configuration from the
// environment and os.Args, builds the logger, runs run until SIGTERM or
// Ctrl-C cancels ctx, and exits non-zero when run fails.
func Main(name string, run func(ctx context.Context, cfg config.Config, log *zap.Logger) error) {
	MainArgs(name, os.Args[1:], run)
}

// MainArgs is Main with the command-line arguments given (for commands
// with subcommands); what is left after the flags is cfg.Args.
func MainArgs(name string, args []string, run func(ctx context.Context, cfg config.Config, log *zap.Logger) error) {
	if err := main(name, args, run); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		}
		os.Exit(1)
	}
}

func main(name string, args []string, run func(context.Context, config.Config, *zap.Logger) error) error {
	cfg, err := config.Load(flag.NewFlagSet(name, flag.ContinueOnError), args, os.Getenv)
	if err != nil {
		return err
	}
	log, err := NewLogger(cfg.LogLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return run(ctx, cfg, log.Named(name))
}
