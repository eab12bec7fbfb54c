package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/blob"
)

func testSizeMismatch(t *testing.T, s blob.Store) {
	const key, old = "size/mismatch", "old contents"
	cases := []struct {
		name string
		r    func() io.Reader
		size int64
	}{
		{"short", func() io.Reader { return strings.NewReader("12345") }, 10},
		{"short one byte at a time", func() io.Reader { return iotest.OneByteReader(strings.NewReader("12345")) }, 6},
		{"long", func() io.Reader { return strings.NewReader("1234567890") }, 5},
		{"long by one", func() io.Reader { return iotest.HalfReader(strings.NewReader("123456")) }, 5},
		{"empty announced", func() io.Reader { return strings.NewReader("x") }, 0},
		{"long stream", func() io.Reader { return io.LimitReader(rand.NewChaCha8([32]byte{}), 3<<20) }, 2 << 20},
		{"negative", func() io.Reader { return strings.NewReader("x") }, -1},
	}
	for _, c := range cases {
		err := s.Put(Ctx(t), key, c.r(), c.size, "text/plain")
		if !errors.Is(err, blob.ErrSizeMismatch) {
			t.Fatalf("%s: Put = %v, want ErrSizeMismatch", c.name, err)
		}
		WantNotFound(t, s, key)
	}
	// A failed overwrite leaves the old object.
	Put(t, s, key, []byte(old), "text/plain")
	for _, c := range cases {
		err := s.Put(Ctx(t), key, c.r(), c.size, "image/png")
		if !errors.Is(err, blob.ErrSizeMismatch) {
			t.Fatalf("%s over an object: Put = %v, want ErrSizeMismatch", c.name, err)
		}
		Want(t, s, key, []byte(old), "text/plain")
	}
}

var errBroken = errors.New("blobtest: broken reader")

func testReaderError(t *testing.T, s blob.Store) {
	const key = "reader/error"
	r := io.MultiReader(strings.NewReader(strings.Repeat("x", 100<<10)), iotest.ErrReader(errBroken))
	if err := s.Put(Ctx(t), key, r, 1<<20, "text/plain"); !errors.Is(err, errBroken) {
		t.Fatalf("Put from a failing reader = %v, want %v in the chain", err, errBroken)
	}
	WantNotFound(t, s, key)
}

// LargeSize is the size of the object testLarge streams.
const LargeSize = 8 << 20

// stream is a reproducible pseudo-random byte stream of n bytes.
func stream(seed byte, n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{seed}), n)
}

func sum(t testing.TB, r io.Reader) ([]byte, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	return h.Sum(nil), n
}

// testLarge streams LargeSize bytes in and out; the test holds neither copy
// in memory, it compares digests.
func testLarge(t *testing.T, s blob.Store) {
	const key = "large/object.bin"
	if err := s.Put(Ctx(t), key, stream(7, LargeSize), LargeSize, "application/zip"); err != nil {
		t.Fatalf("Put: %v", err)
	}
	want, _ := sum(t, stream(7, LargeSize))
	rc, info, err := s.Open(Ctx(t), key)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	got, n := sum(t, rc)
	if n != LargeSize || info.Size != LargeSize || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes (Info.Size %d), want %d; digests equal: %v", n, info.Size, LargeSize, bytes.Equal(got, want))
	}
	if info.ContentType != "application/zip" {
		t.Fatalf("content type %q", info.ContentType)
	}
}

func testConcurrentKeys(t *testing.T, s blob.Store) {
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			size := int64(1000 + i*10_000)
			errs <- s.Put(Ctx(t), "concurrent/"+strconv.Itoa(i), stream(byte(i), size), size, "image/jpeg")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	for i := 0; i < n; i++ {
		size := int64(1000 + i*10_000)
		want, _ := io.ReadAll(stream(byte(i), size))
		Want(t, s, "concurrent/"+strconv.Itoa(i), want, "image/jpeg")
	}
}

// testConcurrentSameKey: racing Puts of one key leave one of them whole,
// never a mix.
func testConcurrentSameKey(t *testing.T, s blob.Store) {
	const n, size, key = 8, 256 << 10, "race/same"
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := iotest.HalfReader(stream(byte(i), size))
			if err := s.Put(Ctx(t), key, r, size, "text/plain; v="+strconv.Itoa(i)); err != nil {
				t.Errorf("Put %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	got, info := Read(t, s, key)
	for i := 0; i < n; i++ {
		if info.ContentType != "text/plain; v="+strconv.Itoa(i) {
			continue
		}
		want, _ := io.ReadAll(stream(byte(i), size))
		if !bytes.Equal(got, want) {
			t.Fatalf("content type of Put %d but not its %d bytes", i, size)
		}
		return
	}
	t.Fatalf("content type %q from no Put", info.ContentType)
}

// stallReader serves half of its bytes, then tells reached and waits for
// its context to end; after that it trickles the rest slowly, so a store
// that ignored the cancellation would still store the whole object.
type stallReader struct {
	ctx     context.Context
	first   io.Reader
	rest    io.Reader
	reached chan struct{}
	stalled bool
}

func newStallReader(ctx context.Context, size int64) *stallReader {
	src := stream(3, size)
	return &stallReader{
		ctx: ctx, first: io.LimitReader(src, size/2), rest: src,
		reached: make(chan struct{}),
	}
}

func (r *stallReader) Read(p []byte) (int, error) {
	n, err := r.first.Read(p)
	if n > 0 || err != io.EOF {
		return n, err
	}
	if !r.stalled {
		r.stalled = true
		close(r.reached)
		<-r.ctx.Done()
	}
	time.Sleep(time.Millisecond)
	if len(p) > 1024 {
		p = p[:1024]
	}
	return r.rest.Read(p)
}

func testCancelMidUpload(t *testing.T, s blob.Store) {
	const key, size = "cancel/mid", 4 << 20
	for _, existing := range []bool{false, true} {
		if existing {
			Put(t, s, key, []byte("old"), "text/plain")
		}
		ctx, cancel := context.WithCancel(Ctx(t))
		r := newStallReader(ctx, size)
		go func() {
			select {
			case <-r.reached:
			case <-time.After(Wait):
			}
			cancel()
		}()
		err := s.Put(ctx, key, r, size, "application/zip")
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Put cancelled mid-upload = %v, want context.Canceled", err)
		}
		if existing {
			Want(t, s, key, []byte("old"), "text/plain")
		} else {
			WantNotFound(t, s, key)
		}
	}
}

func testCancelledContext(t *testing.T, s blob.Store) {
	const key = "cancel/before"
	Put(t, s, key, []byte("kept"), "text/plain")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	wantErr(t, ctx, s, key, want{context.Canceled, true})
	Want(t, s, key, []byte("kept"), "text/plain")
}

func testClose(t *testing.T, s blob.Store) {
	const key = "closed/key"
	Put(t, s, key, []byte("x"), "text/plain")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	wantErr(t, Ctx(t), s, key, want{blob.ErrClosed, true})
}
