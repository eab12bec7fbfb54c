package media

import (
	"image"

	"golang.org/x/image/draw"
)

// fit returns the size of a w×h image scaled down to fit in box, keeping
// the aspect ratio; an image that fits already keeps its size.
func fit(w, h int, box image.Point) image.Point {
	if w <= box.X && h <= box.Y {
		return image.Pt(w, h)
	}
	// Compare w/h with box.X/box.Y without floating point.
	if int64(w)*int64(box.Y) >= int64(h)*int64(box.X) {
		return image.Pt(box.X, max(1, int((int64(h)*int64(box.X)+int64(w)/2)/int64(w))))
	}
	return image.Pt(max(1, int((int64(w)*int64(box.Y)+int64(h)/2)/int64(h))), box.Y)
}

// thumbnail returns src scaled down to fit in box (never up).
func thumbnail(src image.Image, box image.Point) *image.RGBA {
	sb := src.Bounds()
	size := fit(sb.Dx(), sb.Dy(), box)
	dst := image.NewRGBA(image.Rectangle{Max: size})
	if size == sb.Size() {
		draw.Draw(dst, dst.Bounds(), src, sb.Min, draw.Src)
		return dst
	}
	// CatmullRom widens its kernel with the reduction: over a 12-megapixel
	// photo it costs half a second. A box filter first brings the image
	// down to two to four times the thumbnail, cheaply and without
	// aliasing; CatmullRom does the rest.
	if k := min(sb.Dx()/(2*size.X), sb.Dy()/(2*size.Y)); k >= 2 {
		src = shrink(src, k)
		sb = src.Bounds()
	}
	draw.CatmullRom.Scale(dst, dst.Bounds(), src, sb, draw.Src, nil)
	return dst
}

// shrink averages each k×k block of src into one pixel (premultiplied
// alpha; the blocks of the last column and row may be narrower). It
// converts src one row at a time, so it holds one source row, not a copy
// of the image.
func shrink(src image.Image, k int) *image.RGBA {
	sb := src.Bounds()
	w, h := sb.Dx(), sb.Dy()
	ow, oh := (w+k-1)/k, (h+k-1)/k
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	row := image.NewRGBA(image.Rect(0, 0, w, 1))
	acc := make([]uint32, ow*4)
	for oy := 0; oy < oh; oy++ {
		clear(acc)
		rows := min(k, h-oy*k)
		for dy := 0; dy < rows; dy++ {
			draw.Draw(row, row.Bounds(), src, image.Pt(sb.Min.X, sb.Min.Y+oy*k+dy), draw.Src)
			pix := row.Pix[:w*4]
			for ox, x0 := 0, 0; ox < ow; ox, x0 = ox+1, x0+k {
				var r, g, b, a uint32
				for i := x0 * 4; i < min(x0+k, w)*4; i += 4 {
					p := pix[i : i+4 : i+4]
					r += uint32(p[0])
					g += uint32(p[1])
					b += uint32(p[2])
					a += uint32(p[3])
				}
				s := acc[ox*4 : ox*4+4 : ox*4+4]
				s[0] += r
				s[1] += g
				s[2] += b
				s[3] += a
			}
		}
		o := out.Pix[oy*out.Stride:]
		for ox := 0; ox < ow; ox++ {
			n := uint32(min(k, w-ox*k) * rows)
			for c := 0; c < 4; c++ {
				o[ox*4+c] = uint8((acc[ox*4+c] + n/2) / n)
			}
		}
	}
	return out
}
