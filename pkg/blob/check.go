package blob

import "fmt"

// CheckPut checks Put's arguments for a Store implementation: the key
// (ErrBadKey), the size (ErrSizeMismatch when negative) and the content
// type (ErrBadContentType). It returns the content type to store, as
// NormalizeContentType gives it.
func CheckPut(key string, size int64, contentType string) (string, error) {
	if err := ValidKey(key); err != nil {
		return "", err
	}
	if size < 0 {
		return "", fmt.Errorf("%w: negative size %d", ErrSizeMismatch, size)
	}
	return NormalizeContentType(contentType)
}
