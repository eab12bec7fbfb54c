package fsblob

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/blobtest"
	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
)

func newStore(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := New(filepath.Join(t.TempDir(), "blobs"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s := newStore(t, Options{})
		t.Cleanup(func() { checkNoTemp(t, s.Dir()) })
		return s
	})
}

func TestConformanceNoSync(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newStore(t, Options{NoSync: true}) })
}

// checkNoTemp fails if a temporary file survived, or if anything in the
// tree is not a "~"-suffixed directory or an object file.
func checkNoTemp(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		name := d.Name()
		switch {
		case strings.HasPrefix(name, tempPrefix):
			t.Errorf("temporary file left: %s", p)
		case d.IsDir() != strings.HasSuffix(name, dirSuffix):
			t.Errorf("unexpected entry %s (dir %v)", p, d.IsDir())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHostileKeys: no key, valid or not, reaches outside the root. The
// root sits in a sandbox directory whose other contents are watched.
func TestHostileKeys(t *testing.T) {
	sandbox := t.TempDir()
	root := filepath.Join(sandbox, "a", "root")
	s, err := New(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	hostile := append([]string{
		"../escape", "../../escape", "a/../../escape", "/tmp/escape", "\\..\\escape",
		"root/../../escape", "..", "a/..", "./..", "%2e%2e%2fescape", "a\x00/../../escape",
		filepath.Join(sandbox, "escape"),
	}, blobtest.BadKeys...)
	for _, k := range hostile {
		if err := s.Put(ctx, k, strings.NewReader("x"), 1, ""); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("Put(%q) = %v, want ErrBadKey", k, err)
		}
		if _, err := s.path(k); !errors.Is(err, blob.ErrBadKey) {
			t.Errorf("path(%q) = %v, want ErrBadKey", k, err)
		}
	}
	// Valid keys that look like paths map strictly below the root.
	for _, k := range []string{"a", "a.b/c", ".x/..y", "x./y.", "-/-", "root", "etc/passwd"} {
		p, err := s.path(k)
		if err != nil {
			if errors.Is(err, blob.ErrBadKey) && strings.Contains(k, "..") {
				continue
			}
			t.Fatalf("path(%q): %v", k, err)
		}
		rel, err := filepath.Rel(s.Dir(), p)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
			t.Fatalf("key %q maps to %s, outside %s", k, p, s.Dir())
		}
		if err := s.Put(ctx, k, strings.NewReader("x"), 1, ""); err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
	}
	// Nothing but the root's own parent chain exists in the sandbox.
	err = filepath.WalkDir(sandbox, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == sandbox || p == filepath.Dir(root) || p == root || strings.HasPrefix(p, root+string(filepath.Separator)) {
			return nil
		}
		t.Errorf("written outside the root: %s", p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkNoTemp(t, root)
}

func TestNewCreatesPrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "x", "y")
	s, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("root mode %v, want 0700", st.Mode().Perm())
	}
	if err := s.Put(context.Background(), "a/b", strings.NewReader("x"), 1, ""); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{filepath.Join(dir, "a~"): 0o700, filepath.Join(dir, "a~", "b"): 0o600} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", p, st.Mode().Perm(), want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New("", Options{}); err == nil {
		t.Error("New(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(file, Options{}); err == nil {
		t.Error("New on a regular file succeeded")
	}
}

func TestCorruptObject(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	for name, content := range map[string]string{
		"nohdr":    "just bytes",
		"badmagic": "IMBLOB2 text/plain\nxyz",
		"noeol":    "IMBLOB1 text/plain",
		"empty":    "",
	} {
		if err := os.WriteFile(filepath.Join(s.Dir(), name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, name); err == nil || errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Stat of corrupt %q = %v, want a corruption error", name, err)
		}
	}
	// A directory where an object should be is no object either.
	if err := os.Mkdir(filepath.Join(s.Dir(), "dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Open(ctx, "dir"); err == nil {
		t.Error("Open of a directory succeeded")
	}
}

// TestOpenSeeks: the reader Open returns seeks and reads at offsets within
// the object's bytes (for HTTP range requests).
func TestOpenSeeks(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	if err := s.Put(ctx, "k", strings.NewReader("0123456789"), 10, "text/plain"); err != nil {
		t.Fatal(err)
	}
	rc, _, err := s.Open(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	rs, ok := rc.(io.ReadSeeker)
	if !ok {
		t.Fatalf("%T is no io.ReadSeeker", rc)
	}
	if end, err := rs.Seek(0, io.SeekEnd); err != nil || end != 10 {
		t.Fatalf("Seek end = %d, %v", end, err)
	}
	if _, err := rs.Seek(7, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(rs)
	if err != nil || string(rest) != "789" {
		t.Fatalf("after Seek(7): %q, %v", rest, err)
	}
	buf := make([]byte, 3)
	if _, err := rc.(io.ReaderAt).ReadAt(buf, 2); err != nil || string(buf) != "234" {
		t.Fatalf("ReadAt(2) = %q, %v", buf, err)
	}
}

// TestPutStreams: a large Put allocates about its copy buffer, not the
// object.
func TestPutStreams(t *testing.T) {
	s := newStore(t, Options{NoSync: true})
	const size = blobtest.LargeSize
	src := &zeros{n: size}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := s.Put(context.Background(), "big", src, size, ""); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/8 {
		t.Fatalf("Put of %d bytes allocated %d bytes", size, alloc)
	}
	info, err := s.Stat(context.Background(), "big")
	if err != nil || info.Size != size {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
}

// zeros reads n zero bytes without allocating.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}
