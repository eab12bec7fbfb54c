package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// input is one file of the table, and what Inspect must say of it.
type input struct {
	name string
	data []byte
	lim  Limits
	// Either an error...
	err error
	// ...or a content type and, for an image, its size and the thumbnail's.
	contentType string
	size        image.Point
	thumb       image.Point
	thumbType   string
}

func table(t testing.TB) []input {
	wide := encodeJPEG(t, gradient(1000, 500, false))
	return []input{
		{name: "small png kept at its size", data: encodePNG(t, gradient(64, 48, false)),
			contentType: "image/png", size: image.Pt(64, 48), thumb: image.Pt(64, 48), thumbType: "image/jpeg"},
		{name: "transparent png", data: encodePNG(t, gradient(800, 600, true)),
			contentType: "image/png", size: image.Pt(800, 600), thumb: image.Pt(320, 240), thumbType: "image/png"},
		{name: "wide jpeg", data: wide,
			contentType: "image/jpeg", size: image.Pt(1000, 500), thumb: image.Pt(320, 160), thumbType: "image/jpeg"},
		{name: "tall jpeg", data: encodeJPEG(t, gradient(300, 1200, false)),
			contentType: "image/jpeg", size: image.Pt(300, 1200), thumb: image.Pt(80, 320), thumbType: "image/jpeg"},
		{name: "jpeg, custom box", data: wide, lim: Limits{Thumb: image.Pt(100, 100)},
			contentType: "image/jpeg", size: image.Pt(1000, 500), thumb: image.Pt(100, 50), thumbType: "image/jpeg"},
		{name: "jpeg turned by EXIF", data: withOrientation(encodeJPEG(t, gradient(600, 200, false)), 6, binary.BigEndian),
			contentType: "image/jpeg", size: image.Pt(200, 600), thumb: image.Pt(107, 320), thumbType: "image/jpeg"},
		{name: "one pixel", data: encodePNG(t, gradient(1, 1, false)),
			contentType: "image/png", size: image.Pt(1, 1), thumb: image.Pt(1, 1), thumbType: "image/jpeg"},
		{name: "thin line", data: encodePNG(t, gradient(5000, 1, false)),
			contentType: "image/png", size: image.Pt(5000, 1), thumb: image.Pt(320, 1), thumbType: "image/jpeg"},
		{name: "gif with transparency", data: encodeGIF(t, 640, 640, true),
			contentType: "image/gif", size: image.Pt(640, 640), thumb: image.Pt(320, 320), thumbType: "image/png"},
		{name: "opaque gif", data: encodeGIF(t, 100, 50, false),
			contentType: "image/gif", size: image.Pt(100, 50), thumb: image.Pt(100, 50), thumbType: "image/jpeg"},
		{name: "lossy webp", data: readTestdata(t, "blue-purple-pink.lossy.webp"),
			contentType: "image/webp", size: image.Pt(150, 100), thumb: image.Pt(150, 100), thumbType: "image/jpeg"},
		{name: "lossy webp, small box", data: readTestdata(t, "blue-purple-pink.lossy.webp"), lim: Limits{Thumb: image.Pt(60, 60)},
			contentType: "image/webp", size: image.Pt(150, 100), thumb: image.Pt(60, 40), thumbType: "image/jpeg"},
		{name: "lossless webp with alpha", data: readTestdata(t, "gopher-doc.with-alpha.lossless.webp"),
			contentType: "image/webp", size: image.Pt(75, 100), thumb: image.Pt(75, 100), thumbType: "image/png"},

		{name: "text", data: []byte("hello, world\nsecond line\n"), contentType: "text/plain; charset=utf-8"},
		{name: "pdf", data: []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"), contentType: "application/pdf"},
		{name: "zip", data: zipOf(t, "a.txt", "b.txt"), contentType: "application/zip"},
		{name: "docx", data: zipOf(t, "[Content_Types].xml", "word/document.xml"),
			contentType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{name: "empty", data: nil, contentType: "text/plain"},

		{name: "ELF executable named png", data: append(elfHeader(2), encodePNG(t, gradient(4, 4, false))...), err: ErrNotAllowed},
		{name: "ELF shared object", data: elfHeader(3), err: ErrNotAllowed},
		{name: "ELF with */* allowed", data: elfHeader(2), lim: Limits{Policy: mustPolicy(t, "*/*")}, err: ErrNotAllowed},
		{name: "PE with application/* allowed", data: peHeader(), lim: Limits{Policy: mustPolicy(t, "application/*")}, err: ErrNotAllowed},
		{name: "Mach-O", data: machOHeader(), lim: Limits{Policy: mustPolicy(t, "*/*")}, err: ErrNotAllowed},
		{name: "jar (a zip)", data: zipOf(t, "META-INF/MANIFEST.MF", "a.class"), err: ErrNotAllowed},
		{name: "apk (a zip)", data: zipOf(t, "AndroidManifest.xml", "classes.dex"), lim: Limits{Policy: mustPolicy(t, "*/*")}, err: ErrNotAllowed},
		{name: "shell script (a text)", data: []byte("#!/bin/sh\nrm -rf /\n"), lim: Limits{Policy: mustPolicy(t, "text/*")}, err: ErrNotAllowed},
		{name: "html", data: []byte("<!DOCTYPE html><html><script>alert(1)</script></html>"), err: ErrNotAllowed},
		{name: "png not in policy", data: encodePNG(t, gradient(4, 4, false)), lim: Limits{Policy: mustPolicy(t, "application/pdf")}, err: ErrNotAllowed},

		{name: "png declaring 100000×100000", data: pngHeader(100000, 100000), err: ErrImageTooLarge},
		{name: "jpeg declaring 65535×65535", data: jpegWithSize(t, 65535, 65535), err: ErrImageTooLarge},
		{name: "gif declaring 65535×65535", data: gifWithSize(t, 65535, 65535), err: ErrImageTooLarge},
		{name: "png over a small MaxPixels", data: encodePNG(t, gradient(101, 100, false)), lim: Limits{MaxPixels: 100 * 100}, err: ErrImageTooLarge},
		{name: "png declaring 0×0", data: pngHeader(0, 0), err: ErrUndecodable},

		{name: "text over MaxSize", data: bytes.Repeat([]byte("a"), 5000), lim: Limits{MaxSize: 4999}, err: ErrTooLarge},
		{name: "png over MaxSize", data: encodePNG(t, gradient(200, 200, false)), lim: Limits{MaxSize: 400}, err: ErrTooLarge},
		{name: "text at MaxSize", data: bytes.Repeat([]byte("a"), 5000), lim: Limits{MaxSize: 5000}, contentType: "text/plain; charset=utf-8"},
	}
}

func mustPolicy(t testing.TB, patterns ...string) *Policy {
	t.Helper()
	p, err := NewPolicy(patterns...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInspect(t *testing.T) {
	for _, c := range table(t) {
		t.Run(c.name, func(t *testing.T) {
			// One byte at a time: Inspect must not rely on big reads.
			res, err := Inspect(iotest.OneByteReader(bytes.NewReader(c.data)), c.lim)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("Inspect = %+v, %v; want %v", res, err, c.err)
				}
				if res != nil {
					t.Fatalf("result %+v with error %v", res, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if res.ContentType != c.contentType || res.Size != int64(len(c.data)) {
				t.Fatalf("got %s, %d bytes; want %s, %d bytes", res.ContentType, res.Size, c.contentType, len(c.data))
			}
			if c.size == (image.Point{}) {
				if res.Image != nil {
					t.Fatalf("Image %+v for a %s", res.Image, res.ContentType)
				}
				return
			}
			checkImage(t, res.Image, c)
		})
	}
}

func checkImage(t *testing.T, im *Image, c input) {
	t.Helper()
	if im == nil {
		t.Fatal("no Image")
	}
	if got := image.Pt(im.Width, im.Height); got != c.size {
		t.Fatalf("size %v, want %v", got, c.size)
	}
	if got := image.Pt(im.ThumbWidth, im.ThumbHeight); got != c.thumb || im.ThumbType != c.thumbType {
		t.Fatalf("thumbnail %v %s, want %v %s", got, im.ThumbType, c.thumb, c.thumbType)
	}
	var th image.Image
	var err error
	switch im.ThumbType {
	case "image/jpeg":
		th, err = jpeg.Decode(bytes.NewReader(im.Thumb))
	case "image/png":
		th, err = png.Decode(bytes.NewReader(im.Thumb))
	}
	if err != nil {
		t.Fatalf("thumbnail does not decode as %s: %v", im.ThumbType, err)
	}
	if got := th.Bounds().Size(); got != c.thumb {
		t.Fatalf("thumbnail decodes to %v, want %v", got, c.thumb)
	}
	if c.thumbType == "image/png" && !hasTransparency(th) {
		t.Error("PNG thumbnail of a transparent image is opaque")
	}
}

func hasTransparency(img image.Image) bool {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if _, _, _, a := img.At(x, y).RGBA(); a < 0xffff {
				return true
			}
		}
	}
	return false
}

// TestThumbnailColours: scaling keeps the picture (a solid colour stays
// that colour, a gradient keeps its direction).
func TestThumbnailColours(t *testing.T) {
	res, err := Inspect(bytes.NewReader(encodePNG(t, solid(2000, 1000, color.RGBA{200, 30, 40, 255}))), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	th, err := jpeg.Decode(bytes.NewReader(res.Image.Thumb))
	if err != nil {
		t.Fatal(err)
	}
	r, g, b, _ := th.At(160, 80).RGBA()
	if absDiff(r>>8, 200) > 12 || absDiff(g>>8, 30) > 12 || absDiff(b>>8, 40) > 12 {
		t.Errorf("thumbnail centre is %d,%d,%d, want about 200,30,40", r>>8, g>>8, b>>8)
	}
	res, err = Inspect(bytes.NewReader(encodeJPEG(t, gradient(4000, 3000, false))), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	th, err = jpeg.Decode(bytes.NewReader(res.Image.Thumb))
	if err != nil {
		t.Fatal(err)
	}
	left, _, _, _ := th.At(5, 120).RGBA()
	right, _, _, _ := th.At(314, 120).RGBA()
	if left>>8 > 20 || right>>8 < 235 {
		t.Errorf("red across the thumbnail goes %d..%d, want about 0..255", left>>8, right>>8)
	}
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// TestBombRefusedBeforeDecoding: a 100000×100000 PNG header is refused at
// once, allocating next to nothing.
func TestBombRefusedBeforeDecoding(t *testing.T) {
	bomb := pngHeader(100000, 100000)
	// Make it worth decoding: zeros after the header that an unwary reader
	// would consume.
	data := append(bomb, make([]byte, 1<<20)...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := Inspect(bytes.NewReader(data), Limits{})
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrImageTooLarge) {
		t.Fatalf("Inspect = %v, want ErrImageTooLarge", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<10 {
		t.Errorf("refusing the bomb allocated %d bytes", alloc)
	}
	if elapsed > 2*time.Second {
		t.Errorf("refusing the bomb took %v", elapsed)
	}
}

// TestBrokenImages: truncated and corrupted images give ErrUndecodable
// (or ErrNotAllowed when too little is left to tell the type), never a
// panic or a result.
func TestBrokenImages(t *testing.T) {
	images := map[string][]byte{
		"png":           encodePNG(t, gradient(300, 200, true)),
		"jpeg":          encodeJPEG(t, gradient(300, 200, false)),
		"gif":           encodeGIF(t, 300, 200, true),
		"webp":          readTestdata(t, "blue-purple-pink.lossy.webp"),
		"webp lossless": readTestdata(t, "gopher-doc.with-alpha.lossless.webp"),
	}
	for name, data := range images {
		for _, cut := range []int{8, 16, 30, 60, 100, len(data) / 2, len(data) - 40} {
			res, err := Inspect(bytes.NewReader(data[:cut]), Limits{})
			if !errors.Is(err, ErrUndecodable) && !(cut < 16 && errors.Is(err, ErrNotAllowed)) {
				t.Errorf("%s cut at %d of %d: Inspect = %+v, %v; want ErrUndecodable", name, cut, len(data), res, err)
			}
		}
	}
	// A flipped byte in a PNG's pixel data fails its checksum.
	bad := bytes.Clone(images["png"])
	bad[len(bad)/2] ^= 0xff
	if _, err := Inspect(bytes.NewReader(bad), Limits{}); !errors.Is(err, ErrUndecodable) {
		t.Errorf("corrupt png: %v, want ErrUndecodable", err)
	}
	// Garbage behind each format's signature.
	for name, sig := range map[string]string{
		"png": "\x89PNG\r\n\x1a\n", "jpeg": "\xff\xd8\xff\xe0", "gif": "GIF89a", "webp": "RIFF\x10\x00\x00\x00WEBPVP8 ",
	} {
		data := append([]byte(sig), bytes.Repeat([]byte{0xA5, 0x00, 0xFF, 0x13}, 500)...)
		if _, err := Inspect(bytes.NewReader(data), Limits{}); !errors.Is(err, ErrUndecodable) {
			t.Errorf("%s signature with garbage: %v, want ErrUndecodable", name, err)
		}
	}
}

func TestReadErrors(t *testing.T) {
	boom := errors.New("boom")
	png := encodePNG(t, gradient(100, 100, false))
	for name, r := range map[string]io.Reader{
		"at once":         iotest.ErrReader(boom),
		"after the sniff": io.MultiReader(strings.NewReader(strings.Repeat("text ", 1000)), iotest.ErrReader(boom)),
		"inside an image": io.MultiReader(bytes.NewReader(png[:len(png)/2]), iotest.ErrReader(boom)),
	} {
		if _, err := Inspect(r, Limits{}); !errors.Is(err, boom) || errors.Is(err, ErrUndecodable) {
			t.Errorf("%s: Inspect = %v, want the reader's error", name, err)
		}
	}
}

func TestFit(t *testing.T) {
	box := image.Pt(320, 320)
	for _, c := range []struct{ w, h, tw, th int }{
		{320, 320, 320, 320}, {100, 50, 100, 50}, {640, 640, 320, 320}, {640, 320, 320, 160},
		{320, 640, 160, 320}, {1000, 3, 320, 1}, {3, 1000, 1, 320}, {321, 320, 320, 319},
		{1 << 30, 1, 320, 1}, {4000, 3000, 320, 240},
	} {
		if got := fit(c.w, c.h, box); got != image.Pt(c.tw, c.th) {
			t.Errorf("fit(%d, %d) = %v, want %dx%d", c.w, c.h, got, c.tw, c.th)
		}
	}
}
