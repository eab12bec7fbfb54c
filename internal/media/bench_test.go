package media

import (
	"bytes"
	"testing"
)

// BenchmarkInspectJPEG4000x3000: sniff, decode and thumbnail a 12
// megapixel photo-sized JPEG.
func BenchmarkInspectJPEG4000x3000(b *testing.B) {
	data := encodeJPEG(b, gradient(4000, 3000, false))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := Inspect(bytes.NewReader(data), Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Image == nil || res.Image.ThumbWidth != 320 {
			b.Fatalf("result %+v", res)
		}
	}
}
