package s3blob

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
)

// Limits of a presigned URL's lifetime (S3's own).
const (
	MinPresignTTL = time.Second
	MaxPresignTTL = 7 * 24 * time.Hour
)

// maxFilename bounds the download name in bytes.
const maxFilename = 255

// PresignGet returns a URL that downloads key with a plain GET until ttl has
// passed. A non-empty filename is sent back as
// "Content-Disposition: attachment; filename=..." (RFC 2231 encoded when
// not ASCII); characters that cannot be in a file name are replaced.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration, filename string) (string, error) {
	if err := s.beginPresign(ctx, "presign get", key, ttl); err != nil {
		return "", err
	}
	params := url.Values{}
	if filename != "" {
		d := mime.FormatMediaType("attachment", map[string]string{"filename": cleanFilename(filename)})
		if d == "" {
			return "", fmt.Errorf("s3blob: presign get %q: unusable filename %q", key, filename)
		}
		params.Set("response-content-disposition", d)
	}
	u, err := s.client.Presign(ctx, http.MethodGet, s.bucket, key, ttl, params)
	if err != nil {
		return "", fail(ctx, "presign get", key, err)
	}
	return u.String(), nil
}

// PresignPut returns a URL that uploads key with a plain PUT until ttl has
// passed. The Content-Type is part of the signature: the upload must send
// exactly the normalized contentType (blob.NormalizeContentType), so a
// client cannot store the object under another type. Nothing in the URL
// bounds the size: Stat the object once the client reports the upload.
func (s *Store) PresignPut(ctx context.Context, key string, ttl time.Duration, contentType string) (string, error) {
	if err := s.beginPresign(ctx, "presign put", key, ttl); err != nil {
		return "", err
	}
	ct, err := blob.NormalizeContentType(contentType)
	if err != nil {
		return "", fmt.Errorf("s3blob: presign put %q: %w", key, err)
	}
	u, err := s.client.PresignHeader(ctx, http.MethodPut, s.bucket, key, ttl, nil, http.Header{"Content-Type": {ct}})
	if err != nil {
		return "", fail(ctx, "presign put", key, err)
	}
	return u.String(), nil
}

func (s *Store) beginPresign(ctx context.Context, op, key string, ttl time.Duration) error {
	if err := s.begin(ctx, op, key); err != nil {
		return err
	}
	if ttl < MinPresignTTL || ttl > MaxPresignTTL {
		return fmt.Errorf("s3blob: %s %q: ttl %v not in %v..%v", op, key, ttl, MinPresignTTL, MaxPresignTTL)
	}
	return nil
}

// cleanFilename keeps the last path element of name, replaces control
// characters, slashes and quotes, and bounds its length.
func cleanFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 && i < len(name)-1 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == '"' || r == '\uFFFD' {
			return '_'
		}
		return r
	}, strings.ToValidUTF8(name, "_"))
	for len(name) > maxFilename {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if strings.Trim(name, ". _") == "" {
		return "download"
	}
	return name
}
