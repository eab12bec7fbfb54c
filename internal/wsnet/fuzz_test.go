package wsnet

import (
	"bytes"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// fuzzHandler checks what the read path delivers.
type fuzzHandler struct {
	max    int64
	bad    atomic.Int32
	closed chan error
}

func (h *fuzzHandler) OnMessage(c *Conn, p []byte) {
	if !utf8.Valid(p) || int64(len(p)) > h.max {
		h.bad.Add(1)
	}
}

func (h *fuzzHandler) OnClose(c *Conn, err error) { h.closed <- err }

// FuzzReadFrame feeds arbitrary bytes, as a client would send them after the
// handshake, into the read path. It must not panic, must deliver only valid
// UTF-8 within MaxMessageSize, must end the connection exactly once, and
// every frame the server writes back must be a well-formed unmasked frame.
func FuzzReadFrame(f *testing.F) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add(masked(ws.OpText, true, "hello"))
	f.Add(cat(masked(ws.OpText, false, "he"), masked(ws.OpPing, true, "p"), masked(ws.OpContinuation, true, "llo")))
	f.Add(cat(masked(ws.OpText, true, "a"), masked(ws.OpClose, true, "\x03\xe8bye")))
	f.Add(masked(ws.OpClose, true, "\x03"))
	f.Add(masked(ws.OpClose, true, ""))
	f.Add(unmasked(ws.OpText, true, "x"))
	f.Add(masked(ws.OpBinary, true, "x"))
	f.Add(masked(ws.OpText, true, "\xff"))
	f.Add(masked(ws.OpText, true, string(make([]byte, 300))))
	f.Add([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})          // 127-length with MSB set
	f.Add([]byte{0x81, 0xff, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4}) // 2 GiB declared
	f.Add([]byte{0xf1, 0x80, 0, 0, 0, 0})                                     // rsv bits
	f.Add([]byte{0x8b, 0x80, 0, 0, 0, 0})                                     // reserved control opcode
	f.Add(bytes.Repeat(masked(ws.OpPing, true, "x"), 40))
	f.Add([]byte{0x81})
	f.Add([]byte{})
	fuzzRead(f, Options{MaxMessageSize: 256, WriteQueue: 16})
}

// FuzzReadDeflate is FuzzReadFrame on a connection that negotiated
// permessage-deflate: compressed messages, and the inflate limit.
func FuzzReadDeflate(f *testing.F) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add(compressedFrame(f, true, "hello hello hello hello"))
	f.Add(cat(masked(ws.OpText, true, "plain"), compressedFrame(f, true, strings.Repeat("ab", 100))))
	f.Add(compressedFrame(f, true, strings.Repeat("z", 10000)))                        // inflates past the limit
	f.Add(cat(compressedFrame(f, false, "frag"), masked(ws.OpContinuation, true, ""))) // fragmented
	f.Add(maskedRsv(ws.OpText, rsv1, "\xff\xff\xff"))                                  // not deflate data
	f.Add(maskedRsv(ws.OpPing, rsv1, ""))                                              // RSV1 on a control frame
	f.Add(maskedRsv(ws.OpText, 1<<1, "x"))                                             // RSV2
	fuzzRead(f, Options{MaxMessageSize: 256, WriteQueue: 16, Deflate: true})
}

// fuzzRead runs the read-path fuzz target with opts.
func fuzzRead(f *testing.F, opts Options) {
	h := &fuzzHandler{max: opts.MaxMessageSize, closed: make(chan error, 1)}
	s := newLoopless(f, h, opts)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, fc := feed(t, s, data, nil)
		select {
		case err := <-h.closed:
			if err == nil {
				t.Fatal("OnClose with a nil error")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no OnClose")
		}
		select {
		case err := <-h.closed:
			t.Fatalf(
				"second OnClose: %v",
				err,
			)
		default:
		}
		if n := h.bad.Swap(0); n != 0 {
			t.Fatalf(
				"%d invalid messages delivered",
				n,
			)
		}
		fc.mu.Lock()
		out := bytes.Clone(fc.written.Bytes())
		fc.mu.Unlock()
		for _, fr := range readAllFrames(out) {
			if fr.Header.Masked || !fr.Header.Fin {
				t.Fatalf(
					"bad server frame %+v",
					fr.Header,
				)
			}
		}
	})
}

// TestReadPathCloseCauses runs the fake-connection path over a few inputs
// with known outcomes, so the fuzz harness is known to work.
func TestReadPathCloseCauses(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{
			name: "eof",
			in:   masked(ws.OpText, true, "a"),
			want: errEOFCause,
		},
		{
			name: "too big",
			in:   []byte{0x81, 0xff, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4},
			want: ErrMessageTooBig,
		},
		{
			name: "length msb",
			in:   []byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4},
			want: ErrProtocol,
		},
		{
			name: "close 1 byte",
			in:   masked(ws.OpClose, true, "\x03"),
			want: ErrProtocol,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &fuzzHandler{max: 64, closed: make(chan error, 1)}
			s := newLoopless(t, h, Options{MaxMessageSize: 64})
			feed(t, s, tc.in, nil)
			err := <-h.closed
			if tc.want == errEOFCause {
				if err == nil || errors.Is(err, ErrProtocol) {
					t.Fatalf(
						"cause %v, want a read error",
						err,
					)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf(
					"cause %v, want %v",
					err, tc.want,
				)
			}
		})
	}
}

var errEOFCause = errors.New("any read error")
