package bench

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"

	"github.com/im-websocket-go/im-websocket-go/pkg/client"
)

// Conn is one load-generating WebSocket client. One goroutine reads it;
// writes (sends, pings) are serialised by wmu. Its bufio.Reader is the
// only per-connection buffer: frames are handled in place (Peek, then
// Discard), so an idle connection costs a goroutine, the buffer and this
// struct.
type Conn struct {
	idx  int
	user *User
	gw   int // index of its gateway
	room *Room

	nc     net.Conn
	br     *bufio.Reader
	sdk    *client.Client // ClientSDK: the connection is the SDK's (nc, br unused)
	wmu    sync.Mutex
	alive  atomic.Bool
	closed atomic.Bool // closed by us
	hello  chan error  // one value: nil on hello, else why not
	done   chan struct{}
	err    error // why the reader stopped (set before done closes)

	// Delivery state, guarded by mu.
	mu      sync.Mutex
	seen    bitset // seqs received in message frames
	own     bitset // seqs of this connection's own acked sends
	maxSeen int64
	pending map[string]*pendingSend
	counter int64    // next client_msg_id counter (sender goroutine only)
	files   []string // -kind image: file ids still to send (sender goroutine only)
	syncing bool
	syncEnd chan struct{}
	// syncAfter is where the sync in progress last asked from; syncTries
	// counts its refusals (unavailable, rate_limited), for the backoff.
	syncAfter int64
	syncTries int
	win       sendWindow // the raw client's sends (not with the SDK)
}

type pendingSend struct {
	frame []byte // the send frame, for retries
	at    int64  // intended send time, unix nanos
	step  int
	tries int
	hash  uint64
	wrote atomic.Int64 // when its last attempt was written, unix nanos
}

// frameHandler receives every frame a connection reads, in order.
type frameHandler func(c *Conn, f *frame, raw []byte)

// dialer opens connections, spreading them over source addresses.
type dialer struct {
	srcIPs   []net.IP
	timeout  time.Duration
	readBuf  int
	maxFrame int
	handle   frameHandler
	deflate  bool      // offer permessage-deflate
	zr       sync.Pool // *inflater, shared by the connections
}

// prefixConn replays bytes the handshake reader had buffered.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// dial connects c to url with token and waits for hello.
func (d *dialer) dial(ctx context.Context, c *Conn, url, token string) error {
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+token)
	nd := &net.Dialer{Timeout: d.timeout, Control: bindNoPort}
	if len(d.srcIPs) > 0 {
		nd.LocalAddr = &net.TCPAddr{IP: d.srcIPs[c.idx%len(d.srcIPs)]}
	}
	wd := ws.Dialer{
		Header:  ws.HandshakeHeaderHTTP(hdr),
		Timeout: d.timeout,
		NetDial: nd.DialContext,
		// A small handshake buffer: whatever it holds is copied out below.
		ReadBufferSize: 512,
	}
	if d.deflate {
		wd.Extensions = []httphead.Option{wsflate.Parameters{ServerNoContextTakeover: true, ClientNoContextTakeover: true}.Option()}
	}
	nc, br, _, err := wd.Dial(ctx, url)
	if err != nil {
		return err
	}
	var rd io.Reader = nc
	if br != nil {
		pre := make([]byte, br.Buffered())
		_, _ = io.ReadFull(br, pre)
		ws.PutReader(br)
		rd = &prefixConn{Conn: nc, pre: pre}
	}
	c.nc = nc
	c.br = bufio.NewReaderSize(rd, d.readBuf)
	c.hello = make(chan error, 1)
	c.done = make(chan struct{})
	c.alive.Store(true)
	go d.readLoop(c)
	t := time.NewTimer(d.timeout)
	defer t.Stop()
	select {
	case err := <-c.hello:
		if err != nil {
			_ = nc.Close()
			return err
		}
		return nil
	case <-t.C:
		_ = nc.Close()
		return errors.New("no hello in time")
	case <-ctx.Done():
		_ = nc.Close()
		return ctx.Err()
	}
}

var errClosedByServer = errors.New("closed by the server")

func (d *dialer) readLoop(c *Conn) {
	gotHello := false
	defer func() {
		c.alive.Store(false)
		if !gotHello {
			err := c.err
			if err == nil {
				err = errors.New("connection ended before hello")
			}
			c.hello <- err
		}
		close(c.done)
	}()
	var msg []byte // a fragmented or oversized message being assembled
	var f frame
	var compressed bool // the message being read has RSV1 (permessage-deflate)
	for {
		h, hlen, err := peekHeader(c.br)
		if err != nil {
			c.err = err
			return
		}
		if h.Length > int64(d.maxFrame) {
			c.err = fmt.Errorf("frame of %d bytes", h.Length)
			return
		}
		n := int(h.Length)
		var payload []byte
		inPlace := hlen+n <= c.br.Size()
		if inPlace {
			b, err := c.br.Peek(hlen + n)
			if err != nil {
				c.err = err
				return
			}
			payload = b[hlen:]
		} else {
			_, _ = c.br.Discard(hlen)
			payload = make([]byte, n)
			if _, err := io.ReadFull(c.br, payload); err != nil {
				c.err = err
				return
			}
		}
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpText, ws.OpBinary, ws.OpContinuation:
			if h.OpCode != ws.OpContinuation {
				compressed = h.Rsv&rsv1 != 0
			}
			if !h.Fin || msg != nil {
				msg = append(msg, payload...)
				if !h.Fin {
					break
				}
				payload, msg = msg, nil
			}
			if compressed {
				if payload, err = d.inflate(payload); err != nil {
					c.err = err
					return
				}
			}
			if !gotHello {
				gotHello = true
				if !parseFrame(payload, &f) && slowFrame(payload, &f) != nil {
					f.kind = kindOther
				}
				if f.kind != kindHello {
					c.hello <- fmt.Errorf("first frame is not hello: %.200s", payload)
				} else {
					c.hello <- nil
				}
				break
			}
			if !parseFrame(payload, &f) {
				if err := slowFrame(payload, &f); err != nil {
					f.kind = kindOther
				}
			}
			d.handle(c, &f, payload)
		case ws.OpPing:
			_ = c.writeFrame(ws.OpPong, payload)
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(payload)
			if !c.closed.Load() {
				c.err = fmt.Errorf("%w: %d %s", errClosedByServer, code, reason)
			} else {
				c.err = net.ErrClosed
			}
			_ = c.writeFrame(ws.OpClose, ws.NewCloseFrameBody(code, ""))
			_ = c.nc.Close()
			return
		}
		if inPlace {
			_, _ = c.br.Discard(hlen + n)
		}
	}
}

// rsv1 is RSV1 in ws.Header.Rsv: a compressed message.
const rsv1 = 1 << 2

// inflater is pooled inflate state (a flate reader is about 45 KB), so a
// connection keeps only its read buffer.
type inflater struct {
	src bytes.Reader
	r   *wsflate.Reader
}

// resettingReader lets wsflate.Reader reuse its flate reader.
type resettingReader struct{ io.ReadCloser }

func (r resettingReader) Reset(src io.Reader) { _ = r.ReadCloser.(flate.Resetter).Reset(src, nil) }

// inflate returns the message compressed in p, in a new slice.
func (d *dialer) inflate(p []byte) ([]byte, error) {
	in, _ := d.zr.Get().(*inflater)
	if in == nil {
		in = &inflater{}
		in.r = wsflate.NewReader(&in.src, func(r io.Reader) wsflate.Decompressor {
			return resettingReader{flate.NewReader(r)}
		})
	}
	defer d.zr.Put(in)
	in.src.Reset(p)
	in.r.Reset(&in.src)
	out, err := io.ReadAll(io.LimitReader(in.r, int64(d.maxFrame)+1))
	if err != nil {
		return nil, fmt.Errorf("inflate: %w", err)
	}
	if len(out) > d.maxFrame {
		return nil, fmt.Errorf("inflated frame over %d bytes", d.maxFrame)
	}
	return out, nil
}

// peekHeader decodes the frame header at the front of br without
// consuming it.
func peekHeader(br *bufio.Reader) (h ws.Header, n int, err error) {
	b, err := br.Peek(2)
	if err != nil {
		return h, 0, err
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n = 2
	l := int64(b[1] & 0x7f)
	switch l {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h.Masked {
		n += 4
	}
	if b, err = br.Peek(n); err != nil {
		return h, 0, err
	}
	p := 2
	switch l {
	case 126:
		l = int64(binary.BigEndian.Uint16(b[2:4]))
		p = 4
	case 127:
		l = int64(binary.BigEndian.Uint64(b[2:10]))
		p = 10
	}
	if l < 0 {
		return h, 0, errors.New("bad frame length")
	}
	h.Length = l
	if h.Masked {
		copy(h.Mask[:], b[p:p+4])
	}
	return h, n, nil
}

var wbufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeFrame writes one masked client frame.
func (c *Conn) writeFrame(op ws.OpCode, p []byte) error {
	bp := wbufPool.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, 0x80|byte(op))
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, p...)
	ws.Cipher(b[start:], mask, 0)
	c.wmu.Lock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(b)
	c.wmu.Unlock()
	*bp = b
	if cap(b) <= 64<<10 {
		wbufPool.Put(bp)
	}
	return err
}

// sendText writes a text frame.
func (c *Conn) sendText(p []byte) error { return c.writeFrame(ws.OpText, p) }

// syncingNow reports whether a recovery sync is in progress.
func (c *Conn) syncingNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.syncing
}

// close ends the connection from our side.
func (c *Conn) close() {
	if (c.nc == nil && c.sdk == nil) || !c.closed.CompareAndSwap(false, true) {
		return
	}
	if c.sdk != nil {
		_ = c.sdk.Close()
		return
	}
	_ = c.nc.Close()
}
