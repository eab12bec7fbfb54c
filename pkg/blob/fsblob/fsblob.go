// Package fsblob implements blob.Store in a local directory, for a
// standalone server or a single node.
//
// Layout: the object under key "a/b/c.png" is the file <dir>/a~/b~/c.png.
// Directory names carry a "~" suffix, a byte no key holds, so the key "a"
// (a file) and the key "a/b" (inside the directory "a~") never collide, and
// no object file is ever mistaken for a directory or a temporary file.
//
// An object file starts with one header line, "IMBLOB1 <content type>\n",
// followed by the object's bytes, so an object and its content type are
// replaced together by one rename. Put writes a temporary file ("~tmp-*")
// in the object's directory, syncs it and renames it over the object:
// readers see the old object or the new one, never a part. Temporary files
// left by a crash are not cleaned up; they are never read.
//
// Empty directories are left in place after Delete.
package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
)

const (
	dirSuffix  = "~"
	tempPrefix = "~tmp-"
	dirMode    = 0o700
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// NoSync skips the fsync of each object and its directory: faster, but
	// a crash may lose or empty recently written objects. For tests and
	// throw-away data only.
	NoSync bool
}

// Store is a blob.Store in a directory.
type Store struct {
	root   string
	opts   Options
	closed atomic.Bool
}

var _ blob.Store = (*Store)(nil)

// New returns a Store keeping its objects under dir, which it creates
// (mode 0700) when missing.
func New(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("fsblob: empty directory name")
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fsblob: %w", err)
	}
	if err := os.MkdirAll(root, dirMode); err != nil {
		return nil, fmt.Errorf("fsblob: create %s: %w", root, err)
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("fsblob: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("fsblob: %s is not a directory", root)
	}
	return &Store{root: root, opts: opts}, nil
}

// Dir returns the store's absolute root directory.
func (s *Store) Dir() string { return s.root }

// path maps a valid key to its file below the root.
func (s *Store) path(key string) (string, error) {
	if err := blob.ValidKey(key); err != nil {
		return "", fmt.Errorf("fsblob: %q: %w", key, err)
	}
	segs := strings.Split(key, "/")
	for i := range segs[:len(segs)-1] {
		segs[i] += dirSuffix
	}
	p := filepath.Join(append([]string{s.root}, segs...)...)
	// ValidKey already rules out every way out of the root; this is a
	// second line of defence.
	if !strings.HasPrefix(p, s.root+string(filepath.Separator)) {
		return "", fmt.Errorf("fsblob: %q: %w: maps outside the root", key, blob.ErrBadKey)
	}
	return p, nil
}

// begin checks what every operation checks first and maps the key.
func (s *Store) begin(ctx context.Context, key string) (string, error) {
	if s.closed.Load() {
		return "", fmt.Errorf("fsblob: %w", blob.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("fsblob: %q: %w", key, err)
	}
	return s.path(key)
}

// Open returns the object's bytes and Info. The reader also implements
// io.Seeker and io.ReaderAt over the object's bytes (for range requests).
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	p, err := s.begin(ctx, key)
	if err != nil {
		return nil, blob.Info{}, err
	}
	return openObject(p, key)
}

// Stat returns the object's Info.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	p, err := s.begin(ctx, key)
	if err != nil {
		return blob.Info{}, err
	}
	obj, info, err := openObject(p, key)
	if err != nil {
		return blob.Info{}, err
	}
	_ = obj.Close()
	return info, nil
}

// Delete removes the object; an absent object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.begin(ctx, key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsblob: delete %q: %w", key, err)
	}
	return nil
}

// Close marks the store closed; it holds no other resources.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}
