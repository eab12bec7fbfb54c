package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
	"github.com/im-websocket-go/im-websocket-go/pkg/blob/fsblob"
	"github.com/im-websocket-go/im-websocket-go/pkg/blob/s3blob"
)

// OpenBlobs opens the storage of uploaded files: S3 when IM_S3_BUCKET is
// set, else the folder IM_BLOB_DIR, else defDir (standalone: the data
// folder's files). With none of them it returns nil: uploads then answer
// unavailable.
func OpenBlobs(ctx context.Context, cfg config.Config, defDir string) (blob.Store, error) {
	switch {
	case cfg.S3Bucket != "":
		st, err := s3blob.New(ctx, s3blob.Options{Endpoint: cfg.S3Endpoint, Bucket: cfg.S3Bucket, Region: cfg.S3Region,
			AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey, UseSSL: cfg.S3TLS})
		if err != nil {
			return nil, fmt.Errorf("IM_S3_BUCKET: %w", err)
		}
		return st, nil
	case cfg.BlobDir != "" || defDir != "":
		dir := cfg.BlobDir
		if dir == "" {
			dir = defDir
		}
		st, err := fsblob.New(filepath.Clean(dir), fsblob.Options{})
		if err != nil {
			return nil, fmt.Errorf("IM_BLOB_DIR: %w", err)
		}
		return st, nil
	}
	return nil, nil
}
