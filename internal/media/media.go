// Package media inspects uploaded files: it tells their real content type
// from their bytes (never trusting the client's word), applies the upload
// policy, and for images (JPEG, PNG, GIF, WebP) reads the dimensions and
// makes a small thumbnail.
//
// Inspect is built for hostile input: it reads a bounded amount, checks an
// image's declared size against Limits.MaxPixels before decoding it (a
// few bytes can declare a 100000×100000 image: a decompression bomb), and
// turns every malformed input into an error, never a panic.
//
// Memory: decoding needs up to about 8 bytes per pixel (16-bit PNG), more
// for progressive JPEG (its coefficients are kept whole): budget
// 12 × MaxPixels bytes per concurrent Inspect, plus the image's header
// (at most maxHeader) while its size is read.
package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"

	"github.com/gabriel-vasile/mimetype"
)

// Sentinel errors; Inspect wraps them with detail.
var (
	// ErrNotAllowed: the sniffed content type is not allowed by the policy.
	ErrNotAllowed = errors.New("media: content type not allowed")
	// ErrTooLarge: the input is longer than Limits.MaxSize.
	ErrTooLarge = errors.New("media: file too large")
	// ErrImageTooLarge: the image declares more than Limits.MaxPixels.
	ErrImageTooLarge = errors.New("media: image has too many pixels")
	// ErrUndecodable: the bytes say image but do not decode as one
	// (truncated, corrupt, or a disguised file).
	ErrUndecodable = errors.New("media: undecodable image")
)

// Defaults for a zero Limits.
const (
	DefaultMaxSize     = 50 << 20
	DefaultMaxPixels   = 40_000_000
	DefaultThumbWidth  = 320
	DefaultThumbHeight = 320
	DefaultJPEGQuality = 80
)

// sniffLen is how much of the input the content type is told from
// (mimetype reads no further by default).
const sniffLen = 3072

// maxHeader bounds what an image decoder may read to find the image's
// size (JPEG metadata segments come first).
const maxHeader = 8 << 20

// Limits bound what Inspect accepts. The zero value uses the defaults;
// fields at zero or below take their default.
type Limits struct {
	// MaxSize is the longest input in bytes (DefaultMaxSize).
	MaxSize int64
	// MaxPixels bounds width×height of an image (DefaultMaxPixels).
	MaxPixels int64
	// Thumb is the box a thumbnail fits in, keeping the aspect ratio
	// (DefaultThumbWidth×DefaultThumbHeight).
	Thumb image.Point
	// JPEGQuality of JPEG thumbnails, 1..100 (DefaultJPEGQuality).
	JPEGQuality int
	// Policy decides the allowed content types; nil means DefaultPolicy.
	Policy *Policy
}

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.Thumb.X <= 0 {
		l.Thumb.X = DefaultThumbWidth
	}
	if l.Thumb.Y <= 0 {
		l.Thumb.Y = DefaultThumbHeight
	}
	if l.JPEGQuality <= 0 || l.JPEGQuality > 100 {
		l.JPEGQuality = DefaultJPEGQuality
	}
	if l.Policy == nil {
		l.Policy = DefaultPolicy()
	}
	return l
}

// Result is what Inspect found.
type Result struct {
	// ContentType is sniffed from the bytes, e.g. "image/png" or
	// "text/plain; charset=utf-8".
	ContentType string
	// Size is the number of bytes read: the whole input.
	Size int64
	// Image is set for an image of a decodable type.
	Image *Image
}

// Image describes an image and its thumbnail.
type Image struct {
	// Width and Height of the image, in pixels.
	Width, Height int
	// Thumb is the encoded thumbnail, ThumbType its content type:
	// "image/png" when the image has transparency, else "image/jpeg".
	Thumb     []byte
	ThumbType string
	// ThumbWidth and ThumbHeight are the thumbnail's size.
	ThumbWidth, ThumbHeight int
}

// Inspect reads r to its end (at most lim.MaxSize bytes), sniffs the
// content type from the first bytes and refuses it (ErrNotAllowed) unless
// lim.Policy allows it. For an image it then checks the declared size
// (ErrImageTooLarge), decodes it (ErrUndecodable) and makes the thumbnail.
// An input longer than lim.MaxSize gives ErrTooLarge.
//
// Inspect stops reading at the first error. To keep the bytes as well (to
// store them), tee r or inspect a stored copy: Inspect consumes what it
// reads.
func Inspect(r io.Reader, lim Limits) (*Result, error) {
	lim = lim.withDefaults()
	cr := &countReader{r: r, max: lim.MaxSize}
	prefix := make([]byte, sniffLen)
	n, err := io.ReadFull(cr, prefix)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, fmt.Errorf("media: reading: %w", err)
	}
	prefix = prefix[:n]
	m := mimetype.Detect(prefix)
	res := &Result{ContentType: m.String()}
	if !lim.Policy.allowedMIME(m) {
		return nil, fmt.Errorf("%w: %s", ErrNotAllowed, res.ContentType)
	}
	src := io.MultiReader(bytes.NewReader(prefix), cr)
	if c := codecFor(m); c != nil {
		img, err := inspectImage(src, c, lim)
		if err != nil {
			if cr.err != nil { // the input's failure, not the image's
				return nil, fmt.Errorf("media: reading: %w", cr.err)
			}
			return nil, err
		}
		res.Image = img
	}
	if _, err := io.Copy(io.Discard, src); err != nil {
		return nil, fmt.Errorf("media: reading: %w", err)
	}
	res.Size = cr.n
	return res, nil
}

// countReader counts what it reads and fails with ErrTooLarge past max.
type countReader struct {
	r   io.Reader
	n   int64
	max int64
	err error // sticky
}

func (c *countReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if left := c.max - c.n + 1; int64(len(p)) > left {
		p = p[:left] // one byte past max tells it is too long
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		c.n = c.max
		c.err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, c.max)
		return 0, c.err
	}
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}
