package wsnet

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// frameQueue is a connection's write queue. A connection holds one only
// while it has frames to write: the queues are pooled by the Server, so an
// idle connection holds none and a burst allocates nothing.
type frameQueue struct{ f []outFrame }

// maxPooledQueue is the largest queue returned to the pool; a bigger one
// (after a long backlog) is left to the garbage collector.
const maxPooledQueue = 256

// qlen is the number of queued frames; c.mu is held.
func (c *Conn) qlen() int {
	if c.q == nil {
		return 0
	}
	return len(c.q.f)
}

// push queues f, taking a queue from the pool if c has none; c.mu is held.
func (c *Conn) push(f outFrame) {
	if c.q == nil {
		q, _ := c.srv.queues.Get().(*frameQueue)
		if q == nil {
			q = &frameQueue{f: make([]outFrame, 0, 4)}
		}
		c.q = q
	}
	c.q.f = append(c.q.f, f)
}

// dropQueue empties c's queue and gives it back to the pool; c.mu is held.
func (c *Conn) dropQueue() {
	q := c.q
	if q == nil {
		return
	}
	c.q = nil
	clear(q.f)
	q.f = q.f[:0]
	if cap(q.f) <= maxPooledQueue {
		c.srv.queues.Put(q)
	}
}

// aLongTimeAgo is a deadline in the past: setting it aborts blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// Conn is a WebSocket connection served by a Server. Its methods are safe
// for concurrent use.
type Conn struct {
	srv  *Server
	nc   net.Conn
	rc   syscall.RawConn // nil only in tests
	data any
	id   uint64

	lastRead atomic.Int64 // Server.now() when the bytes of the last read wake-up were seen
	busy     atomic.Bool  // the reading side is held: queued for or run by a worker, or ended
	closing  atomic.Bool  // no more messages accepted; set under mu
	pinged   atomic.Bool  // a ping was sent since the last read
	refs     atomic.Int32 // reading and writing sides still holding the socket

	pre []byte // bytes read but not yet parsed; owned by the holder of busy

	mu         sync.Mutex
	q          *frameQueue // nil when empty; bounded by Options.WriteQueue
	inflight   int         // frames taken by the writer, being written
	writing    bool        // a writer goroutine runs (or, once closing, has run)
	readPaused bool        // reading stopped until the writer drains the queue; busy stays held
	hard       bool        // abort: no more writes, I/O deadlines in the past
	closeSent  bool        // our close frame was written
	peerClosed bool        // the client's close frame was received
	silent     bool        // do not call OnClose (registration failed)
	deflate    bool        // permessage-deflate negotiated; set before registration, then read-only
	cause      error
}

type outFrame struct {
	op  ws.OpCode
	rsv byte   // rsv1 for a compressed message
	p   []byte // shared with other connections: never modified
}

// closeReq describes how a connection ends.
type closeReq struct {
	cause  error
	code   ws.StatusCode // status of the close frame; 0: no status
	reason string
	frame  bool // send a close frame after what is queued
	hard   bool // abort now: drop the queue, unblock reads and writes
	peer   bool // answering the client's close frame
	drop   bool // drop queued messages before the close frame
}

// Data returns the value given to Server.Upgrade.
func (c *Conn) Data() any { return c.data }

// ReadAge is how long ago the server saw the bytes it is reading now:
// called from OnMessage, a lower bound on how long that message waited in
// the server (for a free worker, and behind the connection's earlier
// messages of the same wake-up). A handler may shed work whose request is
// already old (docs/operations.md, "Overload").
func (c *Conn) ReadAge() time.Duration { return time.Duration(c.srv.now() - c.lastRead.Load()) }

// ID returns a number that identifies the connection within its Server.
func (c *Conn) ID() uint64 { return c.id }

// Deflate reports whether the connection negotiated permessage-deflate.
func (c *Conn) Deflate() bool { return c.deflate }

// RemoteAddr returns the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Send queues msg to be written as one text frame and returns at once. The
// same slice may be sent to many connections, so it must not be modified
// afterwards. Send returns false when the connection is closing, or when its
// write queue is full: the connection is then closed with status 1008
// "slow consumer". On a deflate connection a message of at least
// Options.DeflateThreshold bytes is compressed, in the calling goroutine
// and once for all the connections it is sent to (see Options.Deflate).
func (c *Conn) Send(msg []byte) bool {
	if c.deflate && len(msg) >= c.srv.opts.DeflateThreshold && !c.closing.Load() {
		if z, ok := c.srv.flate.compressed(msg); ok {
			return c.enqueueFrame(outFrame{op: ws.OpText, rsv: rsv1, p: z})
		}
	}
	return c.enqueue(ws.OpText, msg)
}

// Close sends a close frame with code and reason after the messages already
// queued (best effort, bounded by WriteTimeout), then closes the connection.
// Code 0 means 1000 (normal closure); the reason is cut to fit a control
// frame. OnClose receives a *CloseError with Remote false. Close does not
// wait and may be called more than once; only the first call counts.
func (c *Conn) Close(code ws.StatusCode, reason string) {
	if code == 0 {
		code = ws.StatusNormalClosure
	}
	cause := &CloseError{Code: code, Reason: reason}
	c.shutdown(closeReq{cause: cause, code: code, reason: reason, frame: true}, false)
}

func (c *Conn) enqueue(op ws.OpCode, p []byte) bool {
	return c.enqueueFrame(outFrame{op: op, p: p})
}

func (c *Conn) enqueueFrame(f outFrame) bool {
	c.mu.Lock()
	if c.closing.Load() {
		c.mu.Unlock()
		return false
	}
	if c.qlen()+c.inflight >= c.srv.opts.WriteQueue {
		c.mu.Unlock()
		c.srv.stats.slowConsumers.Add(1)
		c.shutdown(closeReq{cause: ErrSlowConsumer, code: ws.StatusPolicyViolation, reason: "slow consumer", frame: true, drop: true}, false)
		return false
	}
	c.push(f)
	start := !c.writing
	c.writing = true
	c.mu.Unlock()
	if start {
		if c.srv.opts.WriteDelay > 0 {
			c.srv.delayWrite(c)
		} else {
			go c.writeLoop()
		}
	}
	return true
}

// delayWrite starts c's writer after Options.WriteDelay, with the writers
// of every other connection that became ready meanwhile: one timer for
// all of them. c.writing is already set, so frames queued meanwhile wait
// for that writer; the queue bound still applies.
func (s *Server) delayWrite(c *Conn) {
	s.flushMu.Lock()
	s.flushQ = append(s.flushQ, c)
	arm := !s.flushArmed
	s.flushArmed = true
	s.flushMu.Unlock()
	if arm {
		time.AfterFunc(s.opts.WriteDelay, s.flushDelayed)
	}
}

// flushDelayed starts the writers that delayWrite held back.
func (s *Server) flushDelayed() {
	s.flushMu.Lock()
	q := s.flushQ
	s.flushQ = make([]*Conn, 0, min(cap(q), 1024))
	s.flushArmed = false
	s.flushMu.Unlock()
	for _, c := range q {
		go c.writeLoop()
	}
}

// shutdown starts closing the connection; only the first call decides the
// cause and the close frame, but a later hard request still aborts I/O.
// inline tells whether the caller may run the teardown (and OnClose):
// workers and the writer may, application calls may not.
func (c *Conn) shutdown(r closeReq, inline bool) {
	c.mu.Lock()
	first := !c.closing.Load()
	startWriter, writerIdle, readerIdle := false, false, false
	if first {
		c.closing.Store(true)
		if c.readPaused { // the writer will not resume reading: end it here
			c.readPaused = false
			readerIdle = true
		}
		c.cause = r.cause
		c.peerClosed = r.peer
		if r.drop {
			c.dropQueue()
		}
		if r.frame && !r.hard {
			c.push(outFrame{op: ws.OpClose, p: closeBody(r.code, r.reason)})
		}
		if !c.writing {
			c.writing = true // never reset: no writer is started after this one
			startWriter = c.qlen() > 0 && !r.hard
			writerIdle = !startWriter
		}
	}
	if r.hard && !c.hard {
		c.hard = true
		c.dropQueue()
		c.nc.SetDeadline(aLongTimeAgo) // unblock the reader, the writer, a lingering drain
	}
	c.mu.Unlock()

	if startWriter {
		go c.writeLoop()
	}
	if writerIdle {
		c.release(inline)
	}
	if readerIdle {
		c.release(inline)
	}
	if first && c.busy.CompareAndSwap(false, true) {
		c.release(inline) // no worker has the reading side: end it here
	}
}

// release gives up one side's hold; the last one tears the connection down.
func (c *Conn) release(inline bool) {
	if c.refs.Add(-1) != 0 {
		return
	}
	if inline {
		c.teardown()
	} else {
		go c.teardown()
	}
}

// releaseRead ends a worker's turn: it re-arms the socket, or, if the
// connection is closing, gives up the reading side for good.
func (c *Conn) releaseRead() {
	c.busy.Store(false)
	if c.closing.Load() {
		if c.busy.CompareAndSwap(false, true) {
			c.release(true)
		}
		return
	}
	if err := c.srv.poll.rearm(c.rc, c.id); err != nil && !c.closing.Load() {
		err = fmt.Errorf("wsnet: conn %d: %w", c.id, err)
		c.srv.reportError(err)
		c.shutdown(closeReq{cause: err, hard: true}, true)
	}
}

// teardown runs once both sides are done: nobody reads or writes the socket
// any more.
func (c *Conn) teardown() {
	s := c.srv
	_ = s.poll.remove(c.rc) // before the socket is closed; failure means it is not registered
	c.mu.Lock()
	linger := c.closeSent && !c.hard && !c.peerClosed
	cause, silent := c.cause, c.silent
	c.dropQueue()
	c.mu.Unlock()

	s.open.Add(-1)
	s.stats.closed.Add(1)
	if !silent {
		s.h.OnClose(c, cause)
	}
	if linger {
		go c.linger()
		return
	}
	c.finish()
}

// linger half-closes the socket after our close frame and discards what the
// client still sends until it closes its side or CloseTimeout passes, so
// that closing with unread bytes does not make the kernel send a reset that
// could destroy the close frame before the client reads it.
func (c *Conn) linger() {
	defer c.finish()
	c.mu.Lock()
	if c.hard {
		c.mu.Unlock()
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.CloseTimeout))
	c.mu.Unlock()
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	// The byte bound stops a client that streams at full speed.
	io.CopyN(io.Discard, c.nc, c.srv.opts.MaxMessageSize+1<<20)
}

func (c *Conn) finish() {
	s := c.srv
	c.nc.Close()
	s.mu.Lock()
	delete(s.conns, c.id)
	s.mu.Unlock()
	s.connWG.Done()
}

// writeBatch is the writer's scratch space, pooled by the Server.
type writeBatch struct {
	frames []outFrame
	hdr    []byte
	iov    net.Buffers // the buffers of a batch; kept for their capacity
	out    net.Buffers // what writev consumes (a field: &out does not escape to the heap)
	flat   []byte      // a small batch copied into one buffer
}

// flatWrite is the largest batch copied into one buffer and written with
// write(2) instead of writev(2): copying a few small frames costs less
// than the iovec array, which the socket would also keep allocated for
// the rest of the connection's life.
const flatWrite = 4 << 10

// writeLoop writes queued frames in batches and exits when the queue is
// empty, so idle connections have no writer goroutine. Once the connection
// is closing, it writes what remains (ending with the close frame) and gives
// up the writing side.
func (c *Conn) writeLoop() {
	s := c.srv
	b := s.batches.Get().(*writeBatch)
	defer s.batches.Put(b)
	for {
		c.mu.Lock()
		if c.hard || c.qlen() == 0 {
			if c.closing.Load() {
				c.mu.Unlock()
				c.release(true)
				return
			}
			c.writing = false
			c.dropQueue()
			c.mu.Unlock()
			return
		}
		b.frames = append(b.frames[:0], c.q.f...)
		clear(c.q.f)
		c.q.f = c.q.f[:0]
		c.inflight = len(b.frames)
		// Under mu, so that a concurrent hard close (which sets its deadline
		// after taking mu) cannot be overridden.
		c.nc.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		c.mu.Unlock()

		err := c.writeFrames(b)
		last := b.frames[len(b.frames)-1].op
		clear(b.frames)

		c.mu.Lock()
		c.inflight = 0
		resume := c.readPaused && !c.closing.Load() && c.qlen() < s.highWater()
		if resume {
			c.readPaused = false
		}
		if err == nil && last == ws.OpClose {
			c.closeSent = true
			if !c.hard {
				// Nothing more will be read: wake a worker stuck in a
				// partial frame so that the connection ends now.
				c.nc.SetReadDeadline(aLongTimeAgo)
			}
		}
		c.mu.Unlock()
		if resume {
			s.tasks <- c // busy is still held: a worker continues reading
		}
		if err != nil {
			c.shutdown(closeReq{cause: fmt.Errorf("wsnet: write: %w", err), hard: true}, true)
		}
	}
}

// backlogged reports whether c's write queue is at least half full.
func (c *Conn) backlogged() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.qlen()+c.inflight >= c.srv.highWater()
}

// pauseRead stops reading c while its write queue is at least half full,
// so that a client that sends requests faster than it takes the answers is
// slowed down instead of overflowing its own queue. The writer resumes
// reading once the queue is below half again. The caller holds busy and
// keeps it while paused.
func (c *Conn) pauseRead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing.Load() || c.qlen()+c.inflight < c.srv.highWater() {
		return false
	}
	c.readPaused = true // a writer runs: the queue is not empty
	return true
}

// writeFrames writes b.frames with one writev call.
func (c *Conn) writeFrames(b *writeBatch) error {
	s := c.srv
	if need := len(b.frames) * ws.MaxHeaderSize; cap(b.hdr) < need {
		b.hdr = make([]byte, 0, need)
	}
	hdr := b.hdr[:0]
	bufs := b.iov[:0]
	compressed := 0
	for _, f := range b.frames {
		i := len(hdr)
		if f.rsv != 0 {
			compressed++
		}
		hdr = appendFrameHeader(hdr, f.op, f.rsv, len(f.p))
		bufs = append(bufs, hdr[i:len(hdr):len(hdr)])
		if len(f.p) > 0 {
			bufs = append(bufs, f.p)
		}
	}
	b.iov = bufs
	var n int64
	var err error
	if total := len(hdr) + payloadLen(b.frames); total <= flatWrite {
		if b.flat == nil {
			b.flat = make([]byte, 0, flatWrite)
		}
		flat := b.flat[:0]
		for _, p := range bufs {
			flat = append(flat, p...)
		}
		var w int
		w, err = c.nc.Write(flat)
		n = int64(w)
	} else {
		b.out = bufs
		n, err = b.out.WriteTo(c.nc) // consumes b.out, not b.iov
		b.out = nil
	}
	clear(b.iov) // drop references to payloads
	s.stats.bytesOut.Add(uint64(n))
	if err != nil {
		return err
	}
	s.stats.framesOut.Add(uint64(len(b.frames)))
	s.stats.writes.Add(1)
	s.stats.compressedOut.Add(uint64(compressed))
	return nil
}

func payloadLen(frames []outFrame) int {
	n := 0
	for _, f := range frames {
		n += len(f.p)
	}
	return n
}

// appendFrameHeader appends the header of an unmasked final frame; rsv
// holds the RSV bits as in ws.Header (rsv1: compressed).
func appendFrameHeader(dst []byte, op ws.OpCode, rsv byte, n int) []byte {
	b0 := 0x80 | rsv<<4 | byte(op)
	switch {
	case n < 126:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(n))
	}
}

// closeBody builds a close frame payload; code 0 or a code that must not be
// sent gives an empty payload. The reason is cut on a rune boundary to fit
// in a control frame.
func closeBody(code ws.StatusCode, reason string) []byte {
	switch code {
	case 0, ws.StatusNoStatusRcvd, ws.StatusAbnormalClosure, ws.StatusTLSHandshake:
		return nil
	}
	const maxReason = ws.MaxControlFramePayloadSize - 2
	reason = strings.ToValidUTF8(reason, "")
	if len(reason) > maxReason {
		reason = reason[:maxReason]
		for len(reason) > 0 && !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	p := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(p, uint16(code))
	copy(p[2:], reason)
	return p
}
