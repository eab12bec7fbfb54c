package media

import (
	"bytes"
	"errors"
	"image"
	"runtime"
	"testing"
)

// fuzzLimits keeps each input's decoding small.
func fuzzLimits() Limits {
	return Limits{MaxSize: 1 << 20, MaxPixels: 1 << 20, Thumb: image.Pt(64, 64)}
}

// fuzzBudget bounds the bytes one Inspect under fuzzLimits may allocate:
// the decoders' worst case per pixel (progressive JPEG keeps 4 bytes per
// coefficient for three components; images, half-size copies) plus fixed
// buffers. A decoder trusting a declared size would exceed it by far.
const fuzzBudget = 40*(1<<20) + 16<<20

func FuzzInspect(f *testing.F) {
	for _, c := range table(f) {
		if len(c.data) <= 64<<10 {
			f.Add(c.data)
		}
	}
	lim := fuzzLimits()
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res, err := Inspect(bytes.NewReader(data), lim)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > fuzzBudget {
			t.Fatalf("Inspect of %d bytes allocated %d bytes", len(data), alloc)
		}
		if err != nil {
			if res != nil {
				t.Fatalf("result %+v with error %v", res, err)
			}
			for _, known := range []error{ErrNotAllowed, ErrTooLarge, ErrImageTooLarge, ErrUndecodable} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("unexpected error %v", err)
		}
		if res.Size != int64(len(data)) || res.ContentType == "" {
			t.Fatalf("result %+v for %d bytes", res, len(data))
		}
		if im := res.Image; im != nil {
			if int64(im.Width)*int64(im.Height) > lim.MaxPixels || im.Width <= 0 || im.Height <= 0 {
				t.Fatalf("image %d×%d past the limits", im.Width, im.Height)
			}
			if im.ThumbWidth > lim.Thumb.X || im.ThumbHeight > lim.Thumb.Y || len(im.Thumb) == 0 {
				t.Fatalf("thumbnail %d×%d (%d bytes)", im.ThumbWidth, im.ThumbHeight, len(im.Thumb))
			}
		}
	})
}
