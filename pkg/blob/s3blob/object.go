package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"

	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
)

// Put uploads exactly size bytes from r under key. Nothing is stored when
// r holds more or fewer bytes, fails, or ctx ends first.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := s.begin(ctx, "put", key); err != nil {
		return err
	}
	ct, err := blob.CheckPut(key, size, contentType)
	if err != nil {
		return fmt.Errorf("s3blob: put %q: %w", key, err)
	}
	src := &errReader{r: blob.ExactReader(r, size)}
	po := minio.PutObjectOptions{ContentType: ct}
	if size == 0 {
		if _, err := io.Copy(io.Discard, src); err != nil { // r must be empty
			return fmt.Errorf("s3blob: put %q: %w", key, err)
		}
		// minio-go v7.4 signs an empty body in streaming mode with a
		// Content-Length of 0, so net/http sends it chunked and S3 refuses
		// it (MissingContentLength); an empty body needs no streaming.
		po.DisableContentSha256 = true
	}
	_, err = s.client.PutObject(ctx, s.bucket, key, src, size, po)
	if err != nil {
		if src.err != nil && ctx.Err() == nil {
			// The reader's own failure, however the HTTP stack wrapped it.
			return fmt.Errorf("s3blob: put %q: %w", key, src.err)
		}
		return fail(ctx, "put", key, err)
	}
	return nil
}

// errReader remembers the first error other than io.EOF its reader gave.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// Open downloads the object with one GET; the body streams from the
// server as the caller reads, so ctx must stay live until it is closed.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, blob.Info, error) {
	if err := s.begin(ctx, "open", key); err != nil {
		return nil, blob.Info{}, err
	}
	body, oi, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, blob.Info{}, fail(ctx, "open", key, err)
	}
	return body, info(key, oi), nil
}

// Stat returns the object's Info (a HEAD request).
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	if err := s.begin(ctx, "stat", key); err != nil {
		return blob.Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return blob.Info{}, fail(ctx, "stat", key, err)
	}
	return info(key, oi), nil
}

// Delete removes the object; an absent object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.begin(ctx, "delete", key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil {
		if err := fail(ctx, "delete", key, err); !errors.Is(err, blob.ErrNotFound) {
			return err
		}
	}
	return nil
}

func info(key string, oi minio.ObjectInfo) blob.Info {
	ct := oi.ContentType
	if ct == "" {
		ct = blob.DefaultContentType
	}
	return blob.Info{Key: key, Size: oi.Size, ContentType: ct, ModTime: oi.LastModified}
}
