// Package sdktest runs the TypeScript SDK's integration test
// (sdk/js/test/integration.test.js) with Node against a real standalone
// server on 127.0.0.1, with two users registered through the REST API (their
// codes read from the SMTP sink) who are friends.
package sdktest

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/standalone"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// sdkDir is sdk/js of this module.
func sdkDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "sdk", "js")
}

// nodePath finds Node (scripts/install-deps.sh installs Debian's nodejs).
// Missing: skip, or fail under CI=true.
func nodePath(t *testing.T) string {
	t.Helper()
	why := "node is not installed; run scripts/install-deps.sh"
	p, err := exec.LookPath("node")
	if err == nil {
		out, err := exec.Command(p, "--version").Output()
		v := strings.TrimSpace(string(out))
		if err == nil && nodeHasWebSocket(v) {
			return p
		}
		why = fmt.Sprintf("node %s has no WebSocket: the SDK's integration test needs Node >= 20.10", v)
	}
	if strings.EqualFold(os.Getenv("CI"), "true") {
		t.Fatal(why)
	}
	t.Skip(why)
	return ""
}

// nodeHasWebSocket reports whether `node --version` (v20.10.0) is at least
// 20.10, where --experimental-websocket gives a global WebSocket.
func nodeHasWebSocket(v string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(v, "v%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 20 || (major == 20 && minor >= 10)
}

func startServer(t *testing.T, sink *testenv.SMTPSink) *standalone.Server {
	t.Helper()
	cfg, err := config.Load(flag.NewFlagSet("sdktest", flag.ContinueOnError), nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.SMTPAddr = sink.Addr
	cfg.SMTPTLS = "none"
	cfg.NodeID = "sdk-test"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := standalone.Start(ctx, cfg, standalone.Options{
		Log:  zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
		Core: app.CoreOptions{Limits: apitest.Generous(), CodeOpts: apitest.GenerousCodes()},
	})
	if err != nil {
		t.Fatalf("standalone: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

func TestSDKAgainstServer(t *testing.T) {
	node := nodePath(t)
	dir := sdkDir(t)
	if _, err := os.Stat(filepath.Join(dir, "dist", "index.js")); err != nil {
		t.Fatalf("the SDK is not built (make sdk-js): %v", err)
	}
	sink := testenv.NewSMTPSink(t)
	srv := startServer(t, sink)
	env := &apitest.Env{T: t, URL: srv.URL, SMTP: sink}
	alice := env.Register("sdka")
	bob := env.Register("sdkb")
	room := env.Befriend(alice, bob)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--experimental-websocket", "--test", "--test-reporter=spec",
		filepath.Join("test", "integration.test.js"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"IM_SDK_HTTP_URL="+srv.URL,
		"IM_SDK_WS_URL=ws://"+srv.Addr.String()+"/ws",
		"IM_SDK_ROOM="+room,
		"IM_SDK_A_ID="+alice.ID, "IM_SDK_A_TOKEN="+alice.Token, "IM_SDK_A_REFRESH="+alice.Refresh,
		"IM_SDK_B_ID="+bob.ID, "IM_SDK_B_TOKEN="+bob.Token,
	)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("node --test test/integration.test.js:\n%s", out.String())
	if err != nil {
		t.Fatalf("the SDK's integration test failed: %v", err)
	}
}
