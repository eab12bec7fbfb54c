package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	binMu    sync.Mutex
	binPaths = map[string]string{}
)

// Binary returns the path of the command ./cmd/<name>, built with the
// toolchain's default settings, as the tests themselves are (the release
// image adds CGO_ENABLED=0 and -trimpath; nothing the tests check depends
// on them). `make test` builds them all beforehand into
// $IM_TEST_BIN_DIR, so no test spends its time budget compiling on a loaded
// machine; without it, the command is built once per test process.
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	if dir := os.Getenv("IM_TEST_BIN_DIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		tb.Fatalf("testenv: IM_TEST_BIN_DIR=%s has no %s (make test builds it)", dir, name)
	}
	binMu.Lock()
	defer binMu.Unlock()
	if p, ok := binPaths[name]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "im-test-bin-")
	if err != nil {
		tb.Fatal(err)
	}
	atExit(func() { os.RemoveAll(dir) })
	p := filepath.Join(dir, name)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", p, "./cmd/"+name)
	cmd.Dir = moduleRoot(tb)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("testenv: go build ./cmd/%s: %v\n%s", name, err, out)
	}
	binPaths[name] = p
	return p
}

// moduleRoot finds the folder of go.mod from the working directory up.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal(fmt.Errorf("testenv: no go.mod above the working directory"))
		}
		dir = parent
	}
}
