package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/embeddb"
	"github.com/im-websocket-go/im-websocket-go/internal/standalone"
	"github.com/im-websocket-go/im-websocket-go/pkg/auth"
	"github.com/im-websocket-go/im-websocket-go/pkg/store/sqlite"
)

// TargetStandalone runs against cmd/standalone: the tool makes a fresh data
// folder, writes its signing key and seeds its store (SQLite through
// pkg/store/sqlite, or the embedded FerretDB with IM_STORE=mongo) before the
// server starts, then starts the server as a child process (or in this
// process, StandaloneInProcess) and drives the scenario against its /ws.
const TargetStandalone = "standalone"

// standaloneModule is the package go build builds when no binary is given.
const standaloneModule = "github.com/im-websocket-go/im-websocket-go/cmd/standalone"

// saServer is a running standalone server and what it needs.
type saServer struct {
	dir    string // temp folder: data/, db/ (FerretDB), the built binary
	url    string // http://127.0.0.1:port
	pid    int
	signer *auth.Signer
	db     *embeddb.Server // ferretdb
	stop   func()
}

// startStandalone prepares and seeds the data folder, then starts the
// server on it.
func (r *runner) startStandalone(ctx context.Context) error {
	r.sa = &saServer{}
	env, err := r.prepareStandalone(ctx)
	if err != nil {
		return err
	}
	return r.launchStandalone(ctx, env)
}

// prepareStandalone makes the data folder, its signing key and the store's
// content, and returns the server's environment. The seeding connection is
// closed when it returns.
func (r *runner) prepareStandalone(ctx context.Context) (env map[string]string, err error) {
	cfg, sa := &r.cfg, r.sa
	if sa.dir, err = os.MkdirTemp("", "imbench-standalone-"); err != nil {
		return nil, err
	}
	data := filepath.Join(sa.dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	// The key the server will find in its data folder, so tokens minted
	// here verify there.
	key := filepath.Join(data, "jwt-ed25519.pem")
	if _, err := auth.GenerateKeyFile(key); err != nil {
		return nil, err
	}
	if sa.signer, err = auth.LoadSigner(key); err != nil {
		return nil, err
	}
	env = map[string]string{
		"IM_DATA_DIR": data, "IM_HTTP_ADDR": "127.0.0.1:0", "IM_LOG_LEVEL": "warn",
		"IM_JWT_ISSUER": cfg.Issuer, "IM_JWT_AUDIENCE": cfg.Audience,
		"IM_STORE": "sqlite", "IM_SQLITE_SYNC": cfg.SQLiteSync,
		"IM_STORE_MAX_FRAME_AGE": cfg.MaxFrameAge.String(),
	}

	t0 := time.Now()
	var seeder *Seeder
	dbFile := filepath.Join(data, standalone.DBFile)
	switch cfg.Store {
	case "ferretdb":
		r.logf("starting the embedded FerretDB")
		if sa.db, err = embeddb.Start(filepath.Join(sa.dir, "db"), "127.0.0.1:0", nil); err != nil {
			return nil, err
		}
		env["IM_STORE"], env["IM_MONGO_URI"], env["IM_MONGO_DB"] = "mongo", sa.db.URI, "imbench"
		if seeder, err = OpenSeeder(ctx, sa.db.URI, "imbench", r.run); err != nil {
			return nil, err
		}
		defer seeder.Close()
	default:
		// Synchronous OFF while seeding: the server opens the file with
		// its own setting.
		st, err := sqlite.Open(ctx, dbFile, sqlite.Options{Synchronous: "OFF", SkipQuickCheck: true})
		if err != nil {
			return nil, err
		}
		defer func() {
			if cerr := st.Close(context.Background()); err == nil && cerr != nil {
				env, err = nil, cerr
			}
		}()
		seeder = MemSeeder(st, r.run)
	}
	if err := r.seed(ctx, seeder, t0); err != nil {
		return nil, err
	}
	if cfg.Scenario == ScenarioHistory {
		t1 := time.Now()
		if cfg.Store == "sqlite" {
			err = seeder.SQLiteMessages(ctx, dbFile, r.roomIDs[0], [2]*User(r.users[:2]), cfg.Messages, cfg.BodySize)
		} else {
			err = seeder.Messages(ctx, r.roomIDs[0], r.users[:2], cfg.Messages, cfg.BodySize)
		}
		if err != nil {
			return nil, err
		}
		took := time.Since(t1).Seconds()
		r.logf("seeded %d messages in one room in %.1fs (%.0f/s)", cfg.Messages, took, float64(cfg.Messages)/took)
		r.seedTook = time.Since(t0)
	}
	return env, nil
}

// launchStandalone starts the server prepared by startStandalone.
func (r *runner) launchStandalone(ctx context.Context, env map[string]string) error {
	sa := r.sa
	if r.cfg.StandaloneInProcess {
		fs := flag.NewFlagSet("standalone", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c, err := config.Load(fs, nil, func(k string) string { return env[k] })
		if err != nil {
			return err
		}
		s, err := standalone.Start(ctx, c, standalone.Options{Log: zap.NewNop(), Console: io.Discard})
		if err != nil {
			return err
		}
		sa.url, sa.pid = s.URL, os.Getpid()
		sa.stop = func() {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = s.Close(cctx)
		}
		return nil
	}
	bin := r.cfg.StandaloneBin
	if bin == "" {
		bin = filepath.Join(sa.dir, "standalone")
		t0 := time.Now()
		r.logf("building %s (give -standalone-bin to skip)", standaloneModule)
		b := exec.CommandContext(ctx, "go", "build", "-o", bin, standaloneModule)
		if out, err := b.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", standaloneModule, err, out)
		}
		r.logf("built in %.1fs", time.Since(t0).Seconds())
	}
	cmd := exec.Command(bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IM_") { // the server takes only ours
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sa.pid = cmd.Process.Pid
	exited := make(chan struct{})
	urlc := make(chan string, 1)
	go func() {
		// It prints "... is running: open http://127.0.0.1:port/" once
		// it listens; the rest (warnings) goes to our output.
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.Index(line, "is running: open "); i >= 0 {
				select {
				case urlc <- strings.TrimSuffix(strings.TrimSpace(line[i+len("is running: open "):]), "/"):
				default:
				}
				continue
			}
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "data folder:") &&
				t != "(Ctrl-C to stop)" && t != "stopping..." {
				r.logf("standalone: %s", line)
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(exited) }()
	sa.stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	select {
	case sa.url = <-urlc:
	case <-exited:
		return errors.New("the standalone server exited during start")
	case <-time.After(60 * time.Second):
		return errors.New("the standalone server did not start in 60s")
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

func (sa *saServer) close() {
	if sa.stop != nil {
		sa.stop()
	}
	if sa.db != nil {
		sa.db.Stop()
	}
	if sa.dir != "" {
		_ = os.RemoveAll(sa.dir)
	}
}
