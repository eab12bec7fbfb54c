package wsnet

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

const (
	// readBufferSize is each worker's read buffer; large payloads are read
	// directly into the message buffer.
	readBufferSize = 4 << 10
	// maxMessagesPerWake bounds the messages (or control frames) one worker
	// handles for one connection before letting other connections go first.
	maxMessagesPerWake = 32
	// payloadChunk is how much of a declared payload length is allocated
	// before the bytes actually arrive.
	payloadChunk = 32 << 10
)

// worker reads from connections that have data. Its buffers are reused
// across connections: connections own none.
type worker struct {
	s   *Server
	cr  connReader
	br  *bufio.Reader
	hdr [ws.MaxHeaderSize]byte
	ctl [ws.MaxControlFramePayloadSize]byte
}

func newWorker(s *Server) *worker {
	w := &worker{s: s}
	w.br = bufio.NewReaderSize(&w.cr, readBufferSize)
	return w
}

func (w *worker) run() {
	defer w.s.workersWG.Done()
	for c := range w.s.tasks {
		w.serve(c)
	}
}

// serve handles one wake-up of c; the caller holds c.busy.
func (w *worker) serve(c *Conn) {
	s := w.s
	if c.closing.Load() {
		c.release(true) // keep busy: the reading side is over
		return
	}
	// lastRead was set when epoll reported c (or, for a connection handed
	// back after a pause or a yield, when its waiting bytes were seen).
	c.pinged.Store(false)
	w.cr.reset(c, len(c.pre) == 0)
	w.br.Reset(&w.cr)

	var err error
	for n := 1; ; n++ {
		err = w.readMessage(c)
		if err != nil || c.closing.Load() {
			break
		}
		if c.backlogged() {
			// Stash first: once paused, the writer may hand c to another
			// worker at any moment.
			c.stash(w.br)
			w.cr.done()
			w.br.Reset(nil)
			if c.pauseRead() {
				return // the writer hands c back to a worker once it has drained
			}
			w.cr.reset(c, false)
			w.br.Reset(&w.cr)
		}
		if w.br.Buffered() == 0 && len(c.pre) == 0 {
			break // at a frame boundary with nothing buffered: re-arm
		}
		if n >= maxMessagesPerWake {
			// Let other connections go first: keep the unparsed bytes and
			// queue c again, without giving up busy.
			c.stash(w.br)
			w.cr.done()
			if s.tryDispatch(c) {
				w.br.Reset(nil)
				return
			}
			n = 0
			w.cr.reset(c, false)
			w.br.Reset(&w.cr)
		}
	}
	w.cr.done()
	w.br.Reset(nil)
	if err != nil && !errors.Is(err, errWouldBlock) {
		w.fail(c, err)
	}
	c.releaseRead()
}

// fail closes c after a read error.
func (w *worker) fail(c *Conn, err error) {
	if c.closing.Load() {
		return // our own abort, or closed meanwhile
	}
	var cmd *closeCmd
	switch {
	case errors.As(err, &cmd):
		c.shutdown(closeReq{cause: cmd.cause, code: cmd.code, reason: cmd.reason, frame: true, peer: cmd.peer}, true)
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.s.stats.readTimeouts.Add(1)
		c.shutdown(closeReq{cause: fmt.Errorf("%w: %w", ErrReadTimeout, err), hard: true}, true)
	default:
		c.shutdown(closeReq{cause: fmt.Errorf("wsnet: read: %w", err), hard: true}, true)
	}
}

// readMessage reads frames until one data message is complete and delivered,
// or one control frame outside a fragmented message is handled.
func (w *worker) readMessage(c *Conn) error {
	s := w.s
	br := w.br
	var (
		buf        *[]byte
		frag       bool
		compressed bool // the message's first frame had RSV1 (deflate connections only)
	)
	defer func() {
		if buf != nil {
			s.putBuf(buf)
		}
	}()
	for {
		h, err := ws.ReadHeaderBuffer(br, w.hdr[:])
		if err != nil {
			if errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
				return w.protocolError(err)
			}
			return err
		}
		s.stats.framesIn.Add(1)
		state := ws.StateServerSide
		if frag {
			state = state.Set(ws.StateFragmented)
		}
		if c.deflate {
			state = state.Set(ws.StateExtended) // RSV bits checked below
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return w.protocolError(err)
		}
		if h.Rsv != 0 {
			// Only permessage-deflate's RSV1, only on a message's first frame.
			if h.Rsv != rsv1 || h.OpCode.IsControl() || h.OpCode == ws.OpContinuation {
				return w.protocolError(ws.ErrProtocolNonZeroRsv)
			}
			compressed = true
		}

		if h.OpCode.IsControl() { // CheckHeader bounded it to 125 bytes
			p := w.ctl[:h.Length]
			if _, err := io.ReadFull(br, p); err != nil {
				return err
			}
			ws.Cipher(p, h.Mask, 0)
			if err := w.control(c, h.OpCode, p); err != nil {
				return err
			}
			if !frag || c.closing.Load() {
				return nil
			}
			continue
		}

		if !frag && h.OpCode == ws.OpBinary {
			s.stats.protocolErrors.Add(1)
			return &closeCmd{code: ws.StatusUnsupportedData, reason: "binary messages are not supported", cause: ErrUnsupportedData}
		}
		have := 0
		if buf != nil {
			have = len(*buf)
		}
		if h.Length > s.opts.MaxMessageSize-int64(have) {
			s.stats.oversize.Add(1)
			return &closeCmd{code: ws.StatusMessageTooBig, reason: "message too big", cause: ErrMessageTooBig}
		}
		if buf == nil {
			buf = s.getBuf()
		}
		start := len(*buf)
		*buf, err = readPayload(br, *buf, h.Length)
		if err != nil {
			return err
		}
		ws.Cipher((*buf)[start:], h.Mask, 0)
		if !h.Fin {
			frag = true
			continue
		}
		msg := *buf
		if compressed {
			out := s.getBuf()
			defer s.putBuf(out)
			var err error
			*out, err = s.flate.inflate(*out, msg, s.opts.MaxMessageSize)
			switch {
			case errors.Is(err, errInflateLimit):
				s.stats.oversize.Add(1)
				return &closeCmd{code: ws.StatusMessageTooBig, reason: "message too big", cause: ErrMessageTooBig}
			case err != nil:
				return w.protocolError(fmt.Errorf("permessage-deflate: %w", err))
			}
			s.stats.inflatedIn.Add(1)
			msg = *out
		}
		if !utf8.Valid(msg) {
			s.stats.protocolErrors.Add(1)
			return &closeCmd{code: ws.StatusInvalidFramePayloadData, reason: "invalid UTF-8", cause: ErrInvalidUTF8}
		}
		s.stats.messagesIn.Add(1)
		s.h.OnMessage(c, msg)
		return nil
	}
}

func (w *worker) protocolError(err error) error {
	w.s.stats.protocolErrors.Add(1)
	return &closeCmd{code: ws.StatusProtocolError, reason: "protocol error", cause: fmt.Errorf("%w: %w", ErrProtocol, err)}
}

// control handles a ping, pong or close frame; p is the unmasked payload.
func (w *worker) control(c *Conn, op ws.OpCode, p []byte) error {
	switch op {
	case ws.OpPing:
		c.enqueue(ws.OpPong, bytes.Clone(p)) // on overflow the connection closes
		return nil
	case ws.OpClose:
		if len(p) == 0 {
			cause := &CloseError{Code: ws.StatusNoStatusRcvd, Remote: true}
			return &closeCmd{cause: cause, peer: true}
		}
		if len(p) == 1 {
			return w.protocolError(errors.New("close frame payload of 1 byte"))
		}
		code, reason := ws.ParseCloseFrameData(p)
		if err := ws.CheckCloseFrameData(code, reason); err != nil {
			return w.protocolError(err)
		}
		cause := &CloseError{Code: code, Reason: reason, Remote: true}
		return &closeCmd{code: code, cause: cause, peer: true} // echo the code
	}
	return nil // pong: its arrival already counted as activity
}

// readPayload appends n bytes from r to dst, allocating as bytes arrive
// rather than trusting n.
func readPayload(r io.Reader, dst []byte, n int64) ([]byte, error) {
	for n > 0 {
		chunk := int(min(n, payloadChunk))
		start := len(dst)
		dst = slices.Grow(dst, chunk)[:start+chunk]
		if _, err := io.ReadFull(r, dst[start:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return dst[:start], err
		}
		n -= int64(chunk)
	}
	return dst, nil
}

// stash keeps the bytes br has buffered, ahead of any older stash, so that
// the next worker turn on c parses them first.
func (c *Conn) stash(br *bufio.Reader) {
	n := br.Buffered()
	if n == 0 {
		return
	}
	p, _ := br.Peek(n)
	pre := make([]byte, 0, n+len(c.pre))
	pre = append(pre, p...)
	c.pre = append(pre, c.pre...)
	br.Discard(n)
}

// connReader is a worker's view of the connection it serves: first the
// stashed bytes, then the socket. The first socket read of a wake-up does
// not block, so a spurious wake-up costs nothing; later reads (the rest of a
// started frame) block under ReadTimeout, set only when needed.
type connReader struct {
	c           *Conn
	first       bool // next socket read is the wake-up's first
	hasDeadline bool
}

func (r *connReader) reset(c *Conn, first bool) {
	r.c, r.first, r.hasDeadline = c, first, false
}

// done clears the read deadline if one was set and forgets the connection.
func (r *connReader) done() {
	if r.hasDeadline {
		r.c.mu.Lock()
		if !r.c.hard && !r.c.closeSent { // do not undo an abort
			r.c.nc.SetReadDeadline(time.Time{})
		}
		r.c.mu.Unlock()
	}
	r.c, r.hasDeadline = nil, false
}

func (r *connReader) Read(p []byte) (int, error) {
	c := r.c
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		if len(c.pre) == 0 {
			c.pre = nil
		}
		return n, nil
	}
	if r.first && c.rc != nil {
		r.first = false
		n, again, err := readNonblock(c.rc, p)
		if again {
			return 0, errWouldBlock
		}
		c.srv.stats.bytesIn.Add(uint64(n))
		return n, err
	}
	r.first = false
	if !r.hasDeadline {
		c.mu.Lock()
		if c.hard || c.closeSent {
			c.mu.Unlock()
			return 0, os.ErrDeadlineExceeded // aborted: keep the past deadline
		}
		c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.ReadTimeout))
		c.mu.Unlock()
		r.hasDeadline = true
	}
	n, err := c.nc.Read(p)
	c.srv.stats.bytesIn.Add(uint64(n))
	return n, err
}
