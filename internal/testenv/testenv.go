// Package testenv brings up the real components the integration tests talk
// to: Redis, a MongoDB wire server and an SMTP sink. Everything listens on
// 127.0.0.1 only.
//
//   - Redis: IM_TEST_REDIS_URL if set, else a redis-server started on a free
//     loopback port (installed with apt-get when missing and running as root).
//   - MongoDB: IM_TEST_MONGO_URI if set, else FerretDB (sqlite handler)
//     embedded in the test process, in a temp folder.
//   - SMTP: an in-process emersion/go-smtp server recording every mail.
//
// A test package that uses the shared servers calls Main from TestMain so
// they are stopped when the package's tests end.
package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

var (
	mu       sync.Mutex
	cleanups []func()
)

func atExit(f func()) {
	mu.Lock()
	cleanups = append(cleanups, f)
	mu.Unlock()
}

// Main runs the package's tests and then stops every shared server.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
	mu.Unlock()
	os.Exit(code)
}

// UniqueName returns a short name unique to this call, usable as a database
// name or key prefix.
func UniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "testenv: "+format+"\n", args...)
}

// inCI reports whether the tests run under CI=true.
func inCI() bool { return strings.EqualFold(os.Getenv("CI"), "true") }
