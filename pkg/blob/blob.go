// Package blob stores opaque objects (attachments, thumbnails) under string
// keys. The local-directory implementation is blob/fsblob, the S3-compatible
// one blob/s3blob; internal/blobtest holds the behaviour both must show.
//
// An object is written whole or not at all: a Put that fails (the reader
// gives more or fewer bytes than announced, the context is cancelled, the
// backend breaks) leaves whatever was stored under the key before.
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors. Implementations wrap them with context; test with
// errors.Is.
var (
	// ErrNotFound: no object under the key.
	ErrNotFound = errors.New("blob: not found")
	// ErrBadKey: the key is not valid (see ValidKey).
	ErrBadKey = errors.New("blob: bad key")
	// ErrBadContentType: the content type is not a valid media type.
	ErrBadContentType = errors.New("blob: bad content type")
	// ErrSizeMismatch: the reader given to Put held more or fewer bytes
	// than the size announced.
	ErrSizeMismatch = errors.New("blob: size mismatch")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("blob: store closed")
)

// DefaultContentType is stored when Put is given no content type.
const DefaultContentType = "application/octet-stream"

// Info describes a stored object.
type Info struct {
	Key         string
	Size        int64
	ContentType string
	ModTime     time.Time
}

// Store keeps objects. Its methods are safe for concurrent use.
type Store interface {
	// Put stores exactly size bytes read from r under key, replacing any
	// object there, with contentType (DefaultContentType when empty).
	// The object becomes visible only once complete.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Open returns the object's bytes and its Info, or ErrNotFound. The
	// caller closes the reader.
	Open(ctx context.Context, key string) (io.ReadCloser, Info, error)
	// Stat returns the object's Info, or ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object; an absent object is not an error.
	Delete(ctx context.Context, key string) error
	// Close releases the store's resources; later calls fail with
	// ErrClosed. Closing twice is harmless.
	Close() error
}

// Presigner is implemented by stores that can hand out a short-lived URL
// for a direct download or upload, bypassing the API servers.
type Presigner interface {
	// PresignGet returns a URL that downloads key until ttl has passed.
	// A non-empty filename makes the download an attachment with that name
	// (Content-Disposition).
	PresignGet(ctx context.Context, key string, ttl time.Duration, filename string) (string, error)
	// PresignPut returns a URL that uploads key with an HTTP PUT until ttl
	// has passed. The upload must send exactly this Content-Type header.
	// The URL does not bound the size: check the object (Stat) after the
	// client reports the upload done.
	PresignPut(ctx context.Context, key string, ttl time.Duration, contentType string) (string, error)
}
