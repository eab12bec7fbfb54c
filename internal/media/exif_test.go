package media

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
)

// withOrientation inserts an EXIF APP1 segment with orientation o after
// the SOI marker of a JPEG, in the byte order bo.
func withOrientation(jpg []byte, o uint16, bo binary.ByteOrder) []byte {
	tiff := make([]byte, 8+2+12+4)
	if bo == binary.LittleEndian {
		copy(tiff, "II*\x00")
	} else {
		copy(tiff, "MM\x00*")
	}
	bo.PutUint32(tiff[4:], 8)
	bo.PutUint16(tiff[8:], 1)       // one entry
	bo.PutUint16(tiff[10:], 0x0112) // Orientation
	bo.PutUint16(tiff[12:], 3)      // SHORT
	bo.PutUint32(tiff[14:], 1)      // one value
	bo.PutUint16(tiff[18:], o)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestJPEGOrientation(t *testing.T) {
	// Red grows left to right in the stored 300×100 pixels.
	jpg := encodeJPEG(t, gradient(300, 100, false))
	cases := []struct {
		o           uint16
		size        image.Point
		first, last image.Point // thumbnail pixels with the least and the most red
	}{
		{1, image.Pt(300, 100), image.Pt(0, 50), image.Pt(299, 50)},
		{2, image.Pt(300, 100), image.Pt(299, 50), image.Pt(0, 50)},
		{3, image.Pt(300, 100), image.Pt(299, 50), image.Pt(0, 50)},
		{6, image.Pt(100, 300), image.Pt(50, 0), image.Pt(50, 299)},
		{8, image.Pt(100, 300), image.Pt(50, 299), image.Pt(50, 0)},
		{5, image.Pt(100, 300), image.Pt(50, 0), image.Pt(50, 299)},
		{9, image.Pt(300, 100), image.Pt(0, 50), image.Pt(299, 50)}, // invalid: ignored
	}
	for _, c := range cases {
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			res, err := Inspect(bytes.NewReader(withOrientation(jpg, c.o, bo)), Limits{})
			if err != nil {
				t.Fatalf("orientation %d: %v", c.o, err)
			}
			im := res.Image
			if got := image.Pt(im.Width, im.Height); got != c.size {
				t.Fatalf("orientation %d: size %v, want %v", c.o, got, c.size)
			}
			if got := image.Pt(im.ThumbWidth, im.ThumbHeight); got != c.size {
				t.Fatalf("orientation %d: thumbnail %v, want %v", c.o, got, c.size)
			}
			th, err := jpeg.Decode(bytes.NewReader(im.Thumb))
			if err != nil {
				t.Fatal(err)
			}
			lo, hi := red(th.At(c.first.X, c.first.Y)), red(th.At(c.last.X, c.last.Y))
			if lo > 30 || hi < 225 {
				t.Errorf("orientation %d (%v): red %d at %v and %d at %v, want about 0 and 255", c.o, bo, lo, c.first, hi, c.last)
			}
		}
	}
}

func red(c color.Color) uint32 {
	r, _, _, _ := c.RGBA()
	return r >> 8
}

func TestJPEGOrientationMalformed(t *testing.T) {
	jpg := encodeJPEG(t, gradient(8, 8, false))
	good := withOrientation(jpg, 6, binary.LittleEndian)
	if o := jpegOrientation(good); o != 6 {
		t.Fatalf("jpegOrientation = %d, want 6", o)
	}
	// Every truncation and every single-byte change of the header gives
	// an orientation in 1..8 and no panic.
	for i := 0; i < 60 && i < len(good); i++ {
		if o := jpegOrientation(good[:i]); o < 1 || o > 8 {
			t.Fatalf("cut at %d: %d", i, o)
		}
		for _, v := range []byte{0x00, 0xFF, 0x7F} {
			b := bytes.Clone(good[:60])
			b[i] = v
			if o := jpegOrientation(b); o < 1 || o > 8 {
				t.Fatalf("byte %d = %#x: %d", i, v, o)
			}
		}
	}
	for _, b := range [][]byte{nil, {0xFF}, {0xFF, 0xD8}, {0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF}, {0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x01}} {
		if o := jpegOrientation(b); o != 1 {
			t.Errorf("jpegOrientation(%x) = %d, want 1", b, o)
		}
	}
}

func TestShrink(t *testing.T) {
	// 5×3 with values 0..14 in red: 2×2 blocks, the last ones partial.
	img := image.NewRGBA(image.Rect(10, 20, 15, 23)) // a non-zero origin too
	for y := 0; y < 3; y++ {
		for x := 0; x < 5; x++ {
			img.SetRGBA(10+x, 20+y, color.RGBA{uint8(10 * (y*5 + x)), 0, 0, 255})
		}
	}
	out := shrink(img, 2)
	if out.Bounds() != image.Rect(0, 0, 3, 2) {
		t.Fatalf("bounds %v", out.Bounds())
	}
	want := [2][3]uint8{
		{(0 + 10 + 50 + 60 + 2) / 4, (20 + 30 + 70 + 80 + 2) / 4, (40 + 90 + 1) / 2},
		{(100 + 110 + 1) / 2, (120 + 130 + 1) / 2, 140},
	}
	for y := 0; y < 2; y++ {
		for x := 0; x < 3; x++ {
			if got := out.RGBAAt(x, y); got.R != want[y][x] || got.A != 255 {
				t.Errorf("pixel %d,%d = %v, want red %d", x, y, got, want[y][x])
			}
		}
	}
}
