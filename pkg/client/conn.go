package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// maxFrame bounds one server frame the client accepts (the gateway's own
// frames are far smaller; 1 MiB leaves room for big custom messages).
const maxFrame = 1 << 20

// deflateThreshold is the smallest frame the client compresses on a
// deflate connection.
const deflateThreshold = 512

// conn is one WebSocket connection to a gateway. Writes of whole frames are
// serialised by wmu; one goroutine (the client's reader) reads.
type conn struct {
	nc      net.Conn
	rd      io.Reader
	wmu     sync.Mutex
	timeout time.Duration // write deadline per frame

	// permessage-deflate, when negotiated: zw pools *deflateWriter (a
	// flate writer is about 1.2 MB: only while large frames are sent); zr
	// is the reader's inflater, made on the first compressed frame.
	deflate bool
	zw      sync.Pool
	zr      *wsflate.Reader

	hello protocol.Outbound
	done  chan struct{} // closed when the reader has stopped
	err   error         // why, set before done is closed

	closeOnce sync.Once
	lastRd    atomic.Int64 // unix nanos of the last frame read

	// owed counts the requests written on this connection and not yet
	// answered; owedSince is when it last went from zero to one.
	owed      atomic.Int32
	owedSince atomic.Int64
}

func (c *conn) touch()              { c.lastRd.Store(time.Now().UnixNano()) }
func (c *conn) lastRead() time.Time { return time.Unix(0, c.lastRd.Load()) }

// owe notes a request written on c, and paid its answer (or the end of
// the wait for it).
func (c *conn) owe() {
	if c.owed.Add(1) == 1 {
		c.owedSince.Store(time.Now().UnixNano())
	}
}
func (c *conn) paid() { c.owed.Add(-1) }

// owing returns since when c owes answers to requests (ok false: none).
func (c *conn) owing() (since time.Time, ok bool) {
	if c.owed.Load() <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, c.owedSince.Load()), true
}

// StatusError is a refused upgrade: the gateway answered an HTTP status
// (401 unauthenticated, 403 forbidden origin, 503 draining or unavailable)
// instead of switching protocols.
type StatusError struct {
	URL    string
	Status int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("client: %s refused the upgrade with HTTP %d", e.URL, e.Status)
}

// dial opens a connection to url with the bearer token and reads hello;
// compress offers permessage-deflate.
func dial(ctx context.Context, url, token string, timeout time.Duration, compress bool) (*conn, error) {
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+token)
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(hdr), Timeout: timeout}
	if compress {
		d.Extensions = []httphead.Option{deflateOffer()}
	}
	nc, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		var se ws.StatusError
		if errors.As(err, &se) {
			return nil, &StatusError{URL: url, Status: int(se)}
		}
		return nil, fmt.Errorf("client: dial %s: %w", url, err)
	}
	c := &conn{nc: nc, rd: nc, timeout: timeout, done: make(chan struct{})}
	if c.deflate, err = deflateAccepted(hs.Extensions); err != nil {
		nc.Close()
		return nil, fmt.Errorf("client: dial %s: %w", url, err)
	}
	if br != nil { // frames that came with the handshake answer
		c.rd = io.MultiReader(br, nc)
	}
	_ = nc.SetReadDeadline(time.Now().Add(timeout))
	b, err := c.readFrame()
	if err == nil {
		c.hello, err = protocol.DecodeOutbound(b)
	}
	if err == nil && c.hello.Type != protocol.TypeHello {
		err = &frameError{o: c.hello}
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("client: %s: waiting for hello: %w", url, err)
	}
	_ = nc.SetReadDeadline(time.Time{})
	c.touch()
	return c, nil
}

// frameError is a frame that came where another was expected (an error
// frame instead of hello: too many connections for the user).
type frameError struct{ o protocol.Outbound }

func (e *frameError) Error() string {
	if e.o.Type == protocol.TypeError {
		return fmt.Sprintf("error frame %s: %s", e.o.Code, e.o.ErrMessage)
	}
	return "unexpected " + e.o.Type + " frame"
}

// lockedWriter writes control-frame answers (pong, close) under the frame
// lock; each answer is one Write.
type lockedWriter struct{ c *conn }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.wmu.Lock()
	defer w.c.wmu.Unlock()
	_ = w.c.nc.SetWriteDeadline(time.Now().Add(w.c.timeout))
	return w.c.nc.Write(p)
}

// readFrame reads the next text frame, answering control frames. A close
// frame ends it with a wsutil.ClosedError carrying the status.
func (c *conn) readFrame() ([]byte, error) {
	var zs wsflate.MessageState
	rd := wsutil.Reader{Source: c.rd, State: ws.StateClientSide, CheckUTF8: !c.deflate,
		MaxFrameSize: maxFrame, MaxMessageSize: maxFrame}
	if c.deflate {
		rd.State |= ws.StateExtended
		rd.Extensions = []wsutil.RecvExtension{&zs}
	}
	ctl := wsutil.ControlHandler{Src: &rd, Dst: lockedWriter{c}, State: ws.StateClientSide, DisableSrcCiphering: true}
	rd.OnIntermediate = func(h ws.Header, _ io.Reader) error { return ctl.Handle(h) }
	for {
		h, err := rd.NextFrame()
		if err != nil {
			return nil, err
		}
		if h.OpCode.IsControl() {
			if err := ctl.Handle(h); err != nil {
				return nil, err
			}
			continue
		}
		if h.OpCode != ws.OpText {
			if err := rd.Discard(); err != nil {
				return nil, err
			}
			continue
		}
		if !c.deflate {
			return io.ReadAll(&rd)
		}
		var b []byte
		if zs.IsCompressed() {
			b, err = c.inflate(&rd)
		} else {
			b, err = io.ReadAll(&rd)
		}
		if err == nil && !utf8.Valid(b) {
			err = errors.New("client: invalid UTF-8 in a text frame")
		}
		return b, err
	}
}

// write sends one text frame.
func (c *conn) write(b []byte) error {
	var f ws.Frame
	if c.deflate && len(b) >= deflateThreshold {
		z, err := c.compress(b)
		if err != nil {
			return err
		}
		f = ws.NewTextFrame(z)
		f.Header.Rsv = ws.Rsv(true, false, false)
		f = ws.MaskFrameInPlace(f) // z is ours
	} else {
		f = ws.MaskFrame(ws.NewTextFrame(b)) // a copy: callers resend b
	}
	out, err := ws.CompileFrame(f)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	if _, err := c.nc.Write(out); err != nil {
		c.close()
		return fmt.Errorf("client: write: %w", err)
	}
	return nil
}

// close ends the connection (the reader then stops).
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.wmu.Lock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_ = ws.WriteFrame(c.nc, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
		c.wmu.Unlock()
		_ = c.nc.Close()
	})
}

// isDone reports whether the reader has stopped.
func (c *conn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// closeStatus is the close status the server sent (0 if none).
func closeStatus(err error) ws.StatusCode {
	var ce wsutil.ClosedError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}
