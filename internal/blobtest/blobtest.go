// Package blobtest holds behavioural tests that every blob.Store
// implementation must pass.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
)

// Wait bounds each store call a test makes.
const Wait = 30 * time.Second

// NewStore returns an empty store for one subtest. It registers the clean-up
// of whatever backs the store with t; Run closes the store itself.
type NewStore func(t *testing.T) blob.Store

// Run runs the conformance tests, each on a fresh store from newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"PutOpenStatDelete", testPutOpenStatDelete},
		{"Overwrite", testOverwrite},
		{"NotFound", testNotFound},
		{"Empty", testEmpty},
		{"Keys", testKeys},
		{"BadKeys", testBadKeys},
		{"ContentType", testContentType},
		{"BadContentType", testBadContentType},
		{"SizeMismatch", testSizeMismatch},
		{"ReaderError", testReaderError},
		{"Large", testLarge},
		{"ConcurrentKeys", testConcurrentKeys},
		{"ConcurrentSameKey", testConcurrentSameKey},
		{"CancelMidUpload", testCancelMidUpload},
		{"CancelledContext", testCancelledContext},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { _ = s.Close() })
			tc.fn(t, s)
		})
	}
}

// Ctx returns a context that ends after Wait or at the test's end.
func Ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), Wait)
	t.Cleanup(cancel)
	return c
}

// Put stores data under key and fails the test on error.
func Put(t testing.TB, s blob.Store, key string, data []byte, contentType string) {
	t.Helper()
	if err := s.Put(Ctx(t), key, bytes.NewReader(data), int64(len(data)), contentType); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

// Read opens key and returns its bytes and Info, failing the test on error.
// It checks that the reader and Info agree, and that Stat says the same.
func Read(t testing.TB, s blob.Store, key string) ([]byte, blob.Info) {
	t.Helper()
	rc, info, err := s.Open(Ctx(t), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	data, err := io.ReadAll(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(data)) {
		t.Fatalf("Open(%q) Info %+v for %d bytes", key, info, len(data))
	}
	st, err := s.Stat(Ctx(t), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if st.Key != info.Key || st.Size != info.Size || st.ContentType != info.ContentType || !st.ModTime.Equal(info.ModTime) {
		t.Fatalf("Stat(%q) = %+v, Open said %+v", key, st, info)
	}
	return data, info
}

// Want checks that key holds exactly data with contentType.
func Want(t testing.TB, s blob.Store, key string, data []byte, contentType string) {
	t.Helper()
	got, info := Read(t, s, key)
	if !bytes.Equal(got, data) {
		t.Fatalf("%q holds %d bytes %q..., want %d bytes %q...", key, len(got), head(got), len(data), head(data))
	}
	if info.ContentType != contentType {
		t.Fatalf("%q has content type %q, want %q", key, info.ContentType, contentType)
	}
}

// WantNotFound checks that Open and Stat of key fail with blob.ErrNotFound.
func WantNotFound(t testing.TB, s blob.Store, key string) {
	t.Helper()
	wantErr(t, Ctx(t), s, key, want{blob.ErrNotFound, false})
}

// want is the error every call must give; writes adds Put and Delete to
// the calls checked, beside Stat and Open.
type want struct {
	err    error
	writes bool
}

// wantErr checks that the calls on key fail with w.err.
func wantErr(t testing.TB, ctx context.Context, s blob.Store, key string, w want) {
	t.Helper()
	calls := map[string]func() error{
		"Stat": func() error { _, err := s.Stat(ctx, key); return err },
		"Open": func() error {
			rc, _, err := s.Open(ctx, key)
			if err == nil {
				_ = rc.Close()
			}
			return err
		},
	}
	if w.writes {
		calls["Put"] = func() error { return s.Put(ctx, key, strings.NewReader("x"), 1, "text/plain") }
		calls["Delete"] = func() error { return s.Delete(ctx, key) }
	}
	failed := false
	for name, call := range calls {
		if err := call(); !errors.Is(err, w.err) {
			t.Errorf("%s(%q) = %v, want %v", name, key, err, w.err)
			failed = true
		}
	}
	if failed {
		t.FailNow()
	}
}

func head(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}
