// Package s3blob implements blob.Store and blob.Presigner on S3-compatible
// object storage (AWS S3, MinIO, Ceph RGW, ...) with minio-go.
//
// A single PUT is atomic on S3: an object becomes visible whole or not at
// all. Objects larger than the multipart part size (16 MiB) are uploaded in
// parts, held one part at a time in memory, and appear only when the
// upload completes; an upload that fails is aborted.
package s3blob

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
)

// Options configure a Store. Endpoint and Bucket are required.
type Options struct {
	// Endpoint is the server's host[:port], without a scheme
	// ("s3.eu-west-1.amazonaws.com", "127.0.0.1:9000").
	Endpoint string
	// Bucket holds the objects.
	Bucket string
	// Region of the bucket; empty asks the server (one request, cached).
	Region string
	// AccessKey and SecretKey are static credentials; both empty means
	// anonymous requests.
	AccessKey string
	SecretKey string
	// UseSSL talks HTTPS instead of plain HTTP.
	UseSSL bool
	// CreateBucket makes the bucket at New when it does not exist yet.
	// Without it New fails on a missing bucket.
	CreateBucket bool
	// Transport replaces the HTTP transport (custom TLS roots, proxies);
	// nil means minio-go's default for UseSSL.
	Transport http.RoundTripper
}

// Store is a blob.Store in one S3 bucket.
type Store struct {
	client *minio.Client
	core   minio.Core
	bucket string
	// idle is the transport New made, closed by Close.
	idle   *http.Transport
	closed atomic.Bool
}

var (
	_ blob.Store     = (*Store)(nil)
	_ blob.Presigner = (*Store)(nil)
)

// New connects to the server and checks (or, with CreateBucket, creates)
// the bucket, so a wrong endpoint, credentials or bucket fail here.
func New(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	s := &Store{bucket: opts.Bucket}
	tr := opts.Transport
	if tr == nil {
		t, err := minio.DefaultTransport(opts.UseSSL)
		if err != nil {
			return nil, fmt.Errorf("s3blob: transport: %w", err)
		}
		s.idle, tr = t, t
	}
	var creds *credentials.Credentials
	if opts.AccessKey != "" {
		creds = credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, "")
	} else {
		creds = credentials.NewStatic("", "", "", credentials.SignatureAnonymous)
	}
	c, err := minio.New(opts.Endpoint, &minio.Options{
		Creds:     creds,
		Secure:    opts.UseSSL,
		Region:    opts.Region,
		Transport: tr,
	})
	if err != nil {
		return nil, fmt.Errorf("s3blob: client for %s: %w", opts.Endpoint, err)
	}
	s.client, s.core = c, minio.Core{Client: c}
	if err := s.ensureBucket(ctx, opts); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func (o Options) validate() error {
	if o.Endpoint == "" {
		return errors.New("s3blob: no endpoint")
	}
	if strings.Contains(o.Endpoint, "://") || strings.ContainsAny(o.Endpoint, "/?#") {
		return fmt.Errorf("s3blob: endpoint %q: want host[:port] without scheme or path (UseSSL picks https)", o.Endpoint)
	}
	if err := s3utils.CheckValidBucketNameStrict(o.Bucket); err != nil {
		return fmt.Errorf("s3blob: bucket %q: %w", o.Bucket, err)
	}
	if (o.AccessKey == "") != (o.SecretKey == "") {
		return errors.New("s3blob: set both AccessKey and SecretKey, or neither")
	}
	return nil
}

func (s *Store) ensureBucket(ctx context.Context, opts Options) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3blob: bucket %q at %s: %w", s.bucket, opts.Endpoint, err)
	}
	if ok {
		return nil
	}
	if !opts.CreateBucket {
		return fmt.Errorf("s3blob: bucket %q does not exist at %s (set CreateBucket to make it)", s.bucket, opts.Endpoint)
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: opts.Region})
	if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
		return fmt.Errorf("s3blob: create bucket %q at %s: %w", s.bucket, opts.Endpoint, err)
	}
	return nil
}

// Bucket returns the store's bucket name.
func (s *Store) Bucket() string { return s.bucket }

// Close marks the store closed and drops its idle connections.
func (s *Store) Close() error {
	s.closed.Store(true)
	if s.idle != nil {
		s.idle.CloseIdleConnections()
	}
	return nil
}

// begin checks what every operation checks first.
func (s *Store) begin(ctx context.Context, op, key string) error {
	if s.closed.Load() {
		return fmt.Errorf("s3blob: %s %q: %w", op, key, blob.ErrClosed)
	}
	if err := blob.ValidKey(key); err != nil {
		return fmt.Errorf("s3blob: %s %q: %w", op, key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3blob: %s %q: %w", op, key, err)
	}
	return nil
}

// fail wraps err from an S3 call with the operation, mapping a missing
// object to blob.ErrNotFound and reporting an ended context as the cause.
func fail(ctx context.Context, op, key string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("s3blob: %s %q: %w (%v)", op, key, cerr, err)
	}
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey", "NotFound":
		return fmt.Errorf("s3blob: %s %q: %w", op, key, blob.ErrNotFound)
	}
	return fmt.Errorf("s3blob: %s %q: %w", op, key, err)
}
