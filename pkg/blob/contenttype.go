package blob

import (
	"fmt"
	"mime"
	"strings"
)

// MaxContentTypeLen is the longest content type a store accepts, in bytes.
const MaxContentTypeLen = 255

// NormalizeContentType checks that ct is a media type fit to store and to
// send as an HTTP header, and returns its canonical form (lower-case type
// and parameter names, as mime.FormatMediaType writes it). An empty ct
// gives DefaultContentType. The error wraps ErrBadContentType.
func NormalizeContentType(ct string) (string, error) {
	if ct == "" {
		return DefaultContentType, nil
	}
	if len(ct) > MaxContentTypeLen {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrBadContentType, len(ct), MaxContentTypeLen)
	}
	for i := 0; i < len(ct); i++ {
		if c := ct[i]; c < 0x20 || c > 0x7e {
			return "", fmt.Errorf("%w: byte %#x at %d", ErrBadContentType, c, i)
		}
	}
	typ, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrBadContentType, ct, err)
	}
	if !strings.Contains(typ, "/") {
		return "", fmt.Errorf("%w: %q has no subtype", ErrBadContentType, ct)
	}
	out := mime.FormatMediaType(typ, params)
	if out == "" || len(out) > MaxContentTypeLen {
		return "", fmt.Errorf("%w: %q cannot be written back", ErrBadContentType, ct)
	}
	return out, nil
}
