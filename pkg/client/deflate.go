package client

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
)

// deflateOffer is the permessage-deflate offer: no context takeover either
// way, so every message is compressed and inflated on its own.
func deflateOffer() httphead.Option {
	return wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}.Option()
}

// deflateAccepted reports whether the server accepted permessage-deflate,
// and fails if it accepted it with context takeover on its side, which the
// client did not offer.
func deflateAccepted(exts []httphead.Option) (bool, error) {
	for _, opt := range exts {
		if !bytes.Equal(opt.Name, wsflate.ExtensionNameBytes) {
			continue
		}
		var p wsflate.Parameters
		if err := p.Parse(opt); err != nil {
			return false, fmt.Errorf("permessage-deflate answer: %w", err)
		}
		if !p.ServerNoContextTakeover {
			return false, errors.New("permessage-deflate accepted without server_no_context_takeover")
		}
		return true, nil
	}
	return false, nil
}

// deflateWriter compresses one frame at a time.
type deflateWriter struct {
	w   *wsflate.Writer
	buf bytes.Buffer
}

// compress returns b deflated without context, for a frame with RSV1.
func (c *conn) compress(b []byte) ([]byte, error) {
	zw, _ := c.zw.Get().(*deflateWriter)
	if zw == nil {
		zw = &deflateWriter{}
		zw.w = wsflate.NewWriter(&zw.buf, func(w io.Writer) wsflate.Compressor {
			f, _ := flate.NewWriter(w, flate.BestSpeed) // the level is valid
			return f
		})
	}
	defer c.zw.Put(zw)
	zw.buf.Reset()
	zw.w.Reset(&zw.buf)
	if _, err := zw.w.Write(b); err != nil {
		return nil, fmt.Errorf("client: deflate: %w", err)
	}
	if err := zw.w.Flush(); err != nil {
		return nil, fmt.Errorf("client: deflate: %w", err)
	}
	return bytes.Clone(zw.buf.Bytes()), nil
}

// resettingReader lets wsflate.Reader reuse a flate reader.
type resettingReader struct{ io.ReadCloser }

func (r resettingReader) Reset(src io.Reader) { _ = r.ReadCloser.(flate.Resetter).Reset(src, nil) }

// inflate reads a compressed message from rd, at most maxFrame bytes once
// inflated.
func (c *conn) inflate(rd *wsutil.Reader) ([]byte, error) {
	if c.zr == nil {
		c.zr = wsflate.NewReader(rd, func(r io.Reader) wsflate.Decompressor {
			return resettingReader{flate.NewReader(r)}
		})
	}
	c.zr.Reset(rd)
	b, err := io.ReadAll(io.LimitReader(c.zr, maxFrame+1))
	if err != nil {
		return nil, fmt.Errorf("client: inflate: %w", err)
	}
	if len(b) > maxFrame {
		return nil, fmt.Errorf("client: inflated frame over %d bytes", maxFrame)
	}
	// The compressed bytes must all be consumed, or the next frame would
	// start in the middle of this one.
	if err := rd.Discard(); err != nil {
		return nil, err
	}
	return b, nil
}
