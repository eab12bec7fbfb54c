package blob

import (
	"fmt"
	"strings"
)

// Limits of a valid key, in bytes. A segment fits in a file name on every
// common file system, with room for a suffix.
const (
	MaxKeyLen     = 512
	MaxSegmentLen = 200
)

// ValidKey reports whether key may name an object: 1 to MaxKeyLen bytes of
// [A-Za-z0-9._/-], no leading "/", no empty segment (so no trailing "/" nor
// "//"), no "." segment, no ".." anywhere, and no segment (the parts
// between slashes) longer than MaxSegmentLen. Such a key is a safe relative
// path on every file system and needs no escaping in a URL. The error wraps
// ErrBadKey.
func ValidKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: length %d not in 1..%d", ErrBadKey, len(key), MaxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if !keyByte(key[i]) {
			return fmt.Errorf("%w: byte %#x at %d", ErrBadKey, key[i], i)
		}
	}
	if strings.Contains(key, "..") {
		return fmt.Errorf("%w: contains \"..\"", ErrBadKey)
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." {
			return fmt.Errorf("%w: empty or \".\" path segment", ErrBadKey)
		}
		if len(seg) > MaxSegmentLen {
			return fmt.Errorf("%w: segment of %d bytes, at most %d", ErrBadKey, len(seg), MaxSegmentLen)
		}
	}
	return nil
}

func keyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '/' || c == '-'
}
