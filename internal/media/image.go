package media

import (
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/gabriel-vasile/mimetype"
	"golang.org/x/image/webp"
)

// codec reads one image format. Inspect picks it from the sniffed type,
// not from the global image format registry, so a file is decoded as what
// its bytes say it is.
type codec struct {
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
	exif   bool // may carry an EXIF orientation (JPEG)
}

// codecFor returns the codec of m, or nil when m is no image Inspect
// decodes.
func codecFor(m *mimetype.MIME) *codec {
	switch {
	case m.Is("image/jpeg"):
		return &codec{jpeg.DecodeConfig, jpeg.Decode, true}
	case m.Is("image/png"), m.Is("image/apng"):
		return &codec{png.DecodeConfig, png.Decode, false}
	case m.Is("image/gif"):
		// The first frame; the others are not decoded.
		return &codec{gif.DecodeConfig, gif.Decode, false}
	case m.Is("image/webp"):
		return &codec{webp.DecodeConfig, webp.Decode, false}
	}
	return nil
}

// inspectImage reads the image's declared size from its header, refuses
// it above lim.MaxPixels, then decodes it and makes the thumbnail.
func inspectImage(src io.Reader, c *codec, lim Limits) (*Image, error) {
	// Keep what the header decoder reads, to replay it to the decoder.
	var head bytes.Buffer
	cfg, err := c.config(io.TeeReader(io.LimitReader(src, maxHeader), &head))
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrUndecodable, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: size %d×%d", ErrUndecodable, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > lim.MaxPixels {
		return nil, fmt.Errorf("%w: %d×%d is %d pixels, at most %d", ErrImageTooLarge, cfg.Width, cfg.Height, px, lim.MaxPixels)
	}
	img, err := decode(c, io.MultiReader(bytes.NewReader(head.Bytes()), src))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUndecodable, err)
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 || int64(b.Dx())*int64(b.Dy()) > lim.MaxPixels {
		return nil, fmt.Errorf("%w: decoded size %v differs from header %d×%d", ErrUndecodable, b, cfg.Width, cfg.Height)
	}
	// A camera's JPEG says how to turn it for display (EXIF orientation):
	// report the size as displayed and turn the thumbnail.
	o, box, w, h := 1, lim.Thumb, cfg.Width, cfg.Height
	if c.exif {
		o = jpegOrientation(head.Bytes())
	}
	if transposed(o) {
		box, w, h = image.Pt(box.Y, box.X), h, w
	}
	th := orient(thumbnail(img, box), o)
	out := &Image{Width: w, Height: h, ThumbWidth: th.Bounds().Dx(), ThumbHeight: th.Bounds().Dy()}
	var buf bytes.Buffer
	if opaque(img) {
		out.ThumbType = "image/jpeg"
		err = jpeg.Encode(&buf, th, &jpeg.Options{Quality: lim.JPEGQuality})
	} else {
		out.ThumbType = "image/png"
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, th)
	}
	if err != nil {
		return nil, fmt.Errorf("media: encoding thumbnail: %w", err)
	}
	out.Thumb = buf.Bytes()
	return out, nil
}

// decode runs the decoder, turning a panic inside it (a decoder bug met by
// a malformed file) into an error.
func decode(c *codec, r io.Reader) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("decoder panic: %v", p)
		}
	}()
	return c.decode(r)
}

// opaque reports whether img has no transparent pixel (decoders' image
// types all know; an unknown type is taken as transparent).
func opaque(img image.Image) bool {
	o, ok := img.(interface{ Opaque() bool })
	return ok && o.Opaque()
}
