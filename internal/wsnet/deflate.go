package wsnet

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// permessage-deflate (RFC 7692) without context takeover: every message is
// compressed and inflated on its own, so a connection keeps no compression
// state between messages (an idle deflate connection costs what any other
// costs) and the compressed form of a frame does not depend on the
// connection: it is computed once and written to every deflate connection
// that gets the frame.

const (
	// DefaultDeflateThreshold is the smallest message compressed when
	// Options.DeflateThreshold is 0. A short chat frame (300-500 bytes
	// with its JSON envelope) shrinks by only about 20% for the same
	// ~25 µs as a 4 KB one that shrinks by 60%: see BenchmarkChatMixWire.
	DefaultDeflateThreshold = 512
	// deflateLevel: BestSpeed resets in constant time between messages
	// (the other levels clear a 512 KiB hash table on every Reset) and
	// gives nearly the same ratio on short messages.
	deflateLevel = flate.BestSpeed
	// deflateCacheSlots is how many recently sent frames keep their
	// compressed form, so that a fan-out compresses each frame once.
	deflateCacheSlots = 64
	// deflateCacheMax is the largest frame the cache keeps (it pins the
	// frame and its compressed form until the slot is reused); larger
	// frames are compressed for each connection.
	deflateCacheMax = 64 << 10
)

// rsv1 is RSV1 in gobwas/ws's Header.Rsv (ws.Rsv(true, false, false)):
// the message is compressed.
const rsv1 byte = 1 << 2

// errInflateLimit: an inflated message would exceed Options.MaxMessageSize.
var errInflateLimit = errors.New("inflated message too big")

// negotiator returns an upgrader for one handshake that accepts the first
// valid permessage-deflate offer, and a function telling whether it did.
// A malformed offer (unknown parameter, bad window bits) is declined, not
// fatal: the connection then goes on uncompressed.
func negotiator(u ws.HTTPUpgrader) (ws.HTTPUpgrader, func() bool) {
	// No context takeover either way, default window sizes.
	ext := &wsflate.Extension{Parameters: wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}}
	u.Negotiate = func(opt httphead.Option) (httphead.Option, error) {
		accept, err := ext.Negotiate(opt)
		if err != nil {
			ext.Reset()
			return httphead.Option{}, nil
		}
		return accept, nil
	}
	return u, func() bool { _, ok := ext.Accepted(); return ok }
}

// deflater compresses outgoing frames (with a cache of recent ones) and
// inflates incoming messages, with pooled flate state.
type deflater struct {
	// writers holds the idle compressors, nil for one not made yet: a
	// flate writer costs about 1.2 MB, so at most cap(writers)
	// (GOMAXPROCS) exist, made on first use and kept; a compression
	// waits for a free one.
	writers chan *compressor
	readers sync.Pool // *inflater, about 45 KB each
	slots   [deflateCacheSlots]cacheSlot
	stats   *counters
}

type cacheSlot struct {
	mu  sync.Mutex
	src []byte // the frame as given to Send (never modified by contract)
	out []byte // its compressed payload; nil: not worth compressing
}

type compressor struct {
	w   *wsflate.Writer
	buf bytes.Buffer
}

type inflater struct {
	src bytes.Reader
	r   *wsflate.Reader
}

// resettingReader adapts compress/flate's Resetter to what wsflate.Reader
// expects, so that a pooled flate reader is reused instead of rebuilt.
type resettingReader struct{ io.ReadCloser }

func (r resettingReader) Reset(src io.Reader) { _ = r.ReadCloser.(flate.Resetter).Reset(src, nil) }

func newDeflater(st *counters) *deflater {
	d := &deflater{stats: st, writers: make(chan *compressor, runtime.GOMAXPROCS(0))}
	for range cap(d.writers) {
		d.writers <- nil
	}
	d.readers.New = func() any {
		in := &inflater{}
		in.r = wsflate.NewReader(&in.src, func(r io.Reader) wsflate.Decompressor {
			return resettingReader{flate.NewReader(r)}
		})
		return in
	}
	return d
}

// compressed returns the payload of p compressed for a frame with RSV1, or
// false when compressing does not make it smaller. A frame sent to many
// connections is compressed once: the result is kept in a slot chosen by
// the address of p, and p (which Send's contract forbids modifying) is kept
// with it, so the address cannot be reused for other bytes while the slot
// holds it.
func (d *deflater) compressed(p []byte) ([]byte, bool) {
	if len(p) == 0 {
		return nil, false
	}
	if len(p) > deflateCacheMax {
		out := d.compress(p)
		return out, out != nil
	}
	h := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))) ^ uint64(len(p))
	h *= 0x9e3779b97f4a7c15 // Fibonacci hashing: the top bits pick the slot
	sl := &d.slots[h>>58%deflateCacheSlots]
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if len(sl.src) == len(p) && &sl.src[0] == &p[0] {
		return sl.out, sl.out != nil
	}
	sl.src, sl.out = p, d.compress(p)
	return sl.out, sl.out != nil
}

// compress deflates p on its own (no context), without the 4-byte sync
// tail (RFC 7692 7.2.1). It returns nil if the result is not smaller.
func (d *deflater) compress(p []byte) []byte {
	c := <-d.writers
	if c == nil {
		c = &compressor{}
		c.w = wsflate.NewWriter(&c.buf, func(w io.Writer) wsflate.Compressor {
			f, _ := flate.NewWriter(w, deflateLevel) // the level is valid
			return f
		})
	}
	defer func() { d.writers <- c }()
	c.buf.Reset()
	c.w.Reset(&c.buf)
	if _, err := c.w.Write(p); err != nil {
		return nil // writing to a bytes.Buffer does not fail
	}
	if err := c.w.Flush(); err != nil {
		return nil
	}
	d.stats.compressions.Add(1)
	if c.buf.Len() >= len(p) {
		return nil
	}
	out := bytes.Clone(c.buf.Bytes())
	if c.buf.Cap() > 4*deflateCacheMax {
		c.buf = bytes.Buffer{} // do not let one huge frame stay pooled
	}
	return out
}

// inflate appends to dst the message compressed in p, reading at most
// limit+1 bytes of output: a message that inflates beyond limit fails with
// errInflateLimit after allocating no more than about limit.
func (d *deflater) inflate(dst, p []byte, limit int64) ([]byte, error) {
	in := d.readers.Get().(*inflater)
	defer func() {
		in.src.Reset(nil)
		d.readers.Put(in)
	}()
	in.src.Reset(p)
	in.r.Reset(&in.src)
	for {
		room := limit + 1 - int64(len(dst)) // one byte past the limit tells it was crossed
		if room <= 0 {
			return dst, errInflateLimit
		}
		if len(dst) == cap(dst) { // double, up to one byte past the limit
			dst = slices.Grow(dst, int(min(int64(max(512, len(dst))), room)))
		}
		end := len(dst) + int(min(int64(cap(dst)-len(dst)), room))
		n, err := in.r.Read(dst[len(dst):end])
		dst = dst[:len(dst)+n]
		if int64(len(dst)) > limit {
			return dst, errInflateLimit
		}
		switch {
		case errors.Is(err, io.EOF):
			return dst, nil
		case err != nil:
			return dst, fmt.Errorf("inflate: %w", err)
		}
	}
}
