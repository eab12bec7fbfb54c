package fsblob

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
)

// copyBuf is the size of Put's copy buffer.
const copyBuf = 64 << 10

// Put stores exactly size bytes from r under key, atomically. The context
// is checked between reads; a Read blocked in r is r's own business.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	p, err := s.begin(ctx, key)
	if err != nil {
		return err
	}
	ct, err := blob.CheckPut(key, size, contentType)
	if err != nil {
		return fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	tmp, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	if err := s.write(ctx, tmp, r, size, ct); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("fsblob: put %q: %w", key, err)
	}
	if !s.opts.NoSync {
		if err := syncDir(dir); err != nil {
			return fmt.Errorf("fsblob: put %q: %w", key, err)
		}
	}
	return nil
}

// write fills and closes tmp: header, exactly size bytes, fsync.
func (s *Store) write(ctx context.Context, tmp *os.File, r io.Reader, size int64, ct string) error {
	if _, err := io.WriteString(tmp, header(ct)); err != nil {
		return err
	}
	src := &ctxReader{ctx: ctx, r: blob.ExactReader(r, size)}
	buf := make([]byte, copyBuf)
	// io.CopyBuffer would hand tmp's ReadFrom the reader and skip buf.
	if _, err := io.CopyBuffer(struct{ io.Writer }{tmp}, src, buf); err != nil {
		return err
	}
	if !s.opts.NoSync {
		if err := tmp.Sync(); err != nil {
			return err
		}
	}
	return tmp.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctxReader fails once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
