package wsnet

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// Handler receives the events of the connections of a Server.
type Handler interface {
	// OnMessage is called for each complete text message from the client,
	// from a pool worker. payload is only valid during the call: copy it to
	// keep it, including to pass it to Send. Calls for one Conn are never
	// concurrent. A slow OnMessage holds a worker.
	OnMessage(c *Conn, payload []byte)
	// OnClose is called exactly once when the connection is gone (client
	// close, error, Conn.Close, Server.Close), after the last OnMessage for
	// it has returned. err tells why; see the Err* variables and CloseError.
	// It runs on a worker, a writer goroutine or the goroutine calling
	// Server.Close, so it must not call Server.Close.
	OnClose(c *Conn, err error)
}

// Stats are cumulative counters of a Server.
type Stats struct {
	Opened         uint64 // connections upgraded and registered
	Closed         uint64 // connections ended (OnClose called)
	UpgradeErrors  uint64 // failed handshakes
	MessagesIn     uint64 // text messages delivered to OnMessage
	FramesIn       uint64 // frames read, control frames included
	FramesOut      uint64 // frames written, control frames included
	Writes         uint64 // socket writes that carried them: FramesOut/Writes is the batching
	BytesIn        uint64 // bytes read from sockets after the handshake
	BytesOut       uint64 // bytes written to sockets after the handshake
	SlowConsumers  uint64 // connections closed because their write queue overflowed
	Oversize       uint64 // connections closed with 1009
	ProtocolErrors uint64 // connections closed with 1002, 1003 or 1007
	ReadTimeouts   uint64 // connections dropped for not finishing a frame in time
	IdleTimeouts   uint64 // connections closed by the idle sweep
	Deflate        uint64 // connections that negotiated permessage-deflate
	Compressions   uint64 // frames compressed (once per frame for all its deflate connections)
	CompressedOut  uint64 // frames written compressed (RSV1 set)
	InflatedIn     uint64 // compressed messages received and inflated
}

type counters struct {
	opened, closed, upgradeErrors           atomic.Uint64
	messagesIn, framesIn, framesOut, writes atomic.Uint64
	bytesIn, bytesOut                       atomic.Uint64
	slowConsumers, oversize, protocolErrors atomic.Uint64
	readTimeouts, idleTimeouts              atomic.Uint64
	deflate, compressions                   atomic.Uint64
	compressedOut, inflatedIn               atomic.Uint64
}

// Server accepts WebSocket connections through Upgrade and serves them with
// an epoll loop and a bounded worker pool. Create it with NewServer and stop
// it with Close.
type Server struct {
	h        Handler
	opts     Options
	poll     poller
	upgrader ws.HTTPUpgrader
	start    time.Time // origin of Conn.lastRead

	mu     sync.RWMutex
	conns  map[uint64]*Conn // registered, until the socket is closed
	closed bool
	nextID uint64

	open   atomic.Int64   // connections not yet reported to OnClose
	connWG sync.WaitGroup // one per registered connection, until its socket is closed
	tasks  chan *Conn     // connections with data, for the workers
	quit   chan struct{}  // stops the sweeper

	pollerWG, workersWG, sweeperWG sync.WaitGroup
	closeOnce                      sync.Once
	closeErr                       error

	// Connections waiting for Options.WriteDelay before their writer
	// starts; flushArmed: a timer will start them.
	flushMu    sync.Mutex
	flushQ     []*Conn
	flushArmed bool

	queues  sync.Pool // *frameQueue write queues
	bufs    sync.Pool // *[]byte message buffers
	batches sync.Pool // *writeBatch
	flate   *deflater // nil unless Options.Deflate
	stats   counters
}

// NewServer starts the poller, the workers and, when IdleTimeout or
// PingInterval is set, the sweeper. It fails on non-Linux systems.
func NewServer(h Handler, opts Options) (*Server, error) {
	if h == nil {
		return nil, errors.New("wsnet: nil Handler")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	p, err := newPoller()
	if err != nil {
		return nil, err
	}
	s := &Server{
		h:        h,
		opts:     opts,
		poll:     p,
		upgrader: ws.HTTPUpgrader{Timeout: opts.WriteTimeout},
		start:    time.Now(),
		conns:    make(map[uint64]*Conn),
		tasks:    make(chan *Conn, opts.Workers),
		quit:     make(chan struct{}),
	}
	s.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	s.batches.New = func() any { return new(writeBatch) }
	if opts.Deflate {
		s.flate = newDeflater(&s.stats)
	}

	s.workersWG.Add(opts.Workers)
	for range opts.Workers {
		w := newWorker(s)
		go w.run()
	}
	s.pollerWG.Add(1)
	go s.pollLoop()
	if period := s.sweepPeriod(); period > 0 {
		s.sweeperWG.Add(1)
		go s.sweepLoop(period)
	}
	return s, nil
}

// Upgrade upgrades an HTTP request to a WebSocket connection and registers
// it with the server. Call it from a net/http handler after authenticating
// the request and checking its Origin. data is kept in the Conn (see
// Conn.Data). On failure Upgrade has already answered the HTTP request (or
// the connection is gone) and returns an error; on success the handler must
// not use w any more.
//
// The connection is live as soon as it is registered: OnMessage, and even
// OnClose (a client that disconnects at once), may run before Upgrade
// returns. Put per-connection state in data before calling Upgrade, and
// make whatever the caller does after it tolerate a connection that is
// already closed (Send then returns false).
func (s *Server) Upgrade(w http.ResponseWriter, r *http.Request, data any) (*Conn, error) {
	if s.isClosed() {
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return nil, ErrServerClosed
	}
	if r.TLS != nil {
		http.Error(w, "websocket over TLS must be terminated in front of this server", http.StatusNotImplemented)
		s.stats.upgradeErrors.Add(1)
		return nil, ErrUnsupportedConn
	}
	u, deflate := s.upgrader, func() bool { return false }
	if s.flate != nil {
		u, deflate = negotiator(u)
	}
	nc, rw, _, err := u.Upgrade(r, w)
	if err != nil {
		s.stats.upgradeErrors.Add(1)
		if nc != nil {
			nc.Close()
		}
		return nil, fmt.Errorf("wsnet: upgrade: %w", err)
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		s.stats.upgradeErrors.Add(1)
		nc.Close()
		return nil, ErrUnsupportedConn
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		s.stats.upgradeErrors.Add(1)
		nc.Close()
		return nil, fmt.Errorf("wsnet: upgrade: %w", err)
	}
	c := s.newConn(nc, rc, data)
	if c.deflate = deflate(); c.deflate {
		s.stats.deflate.Add(1)
	}
	// Bytes the client sent right after its request (its first frames) may
	// already sit in the hijacked buffer; epoll will not report them.
	if n := rw.Reader.Buffered(); n > 0 {
		p, _ := rw.Reader.Peek(n)
		c.pre = bytes.Clone(p)
	}
	if err := s.register(c); err != nil {
		return nil, err
	}
	return c, nil
}

// newConn makes a Conn that holds a place in connWG; rc may be nil (tests).
func (s *Server) newConn(nc net.Conn, rc syscall.RawConn, data any) *Conn {
	c := &Conn{srv: s, nc: nc, rc: rc, data: data}
	c.refs.Store(2) // the reading side and the writing side
	c.lastRead.Store(s.now())
	return c
}

// register adds c to the table and to epoll. On failure c is closed without
// calling OnClose.
func (s *Server) register(c *Conn) error {
	hasPre := len(c.pre) > 0
	if hasPre {
		c.busy.Store(true) // this goroutine dispatches it below
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.nc.Close()
		return ErrServerClosed
	}
	s.nextID++
	c.id = s.nextID
	s.conns[c.id] = c // before epoll can report it
	s.connWG.Add(1)
	s.mu.Unlock()
	s.open.Add(1)
	s.stats.opened.Add(1)

	if err := s.poll.add(c.rc, c.id); err != nil {
		err = fmt.Errorf("wsnet: register: %w", err)
		c.mu.Lock()
		c.silent = true
		c.mu.Unlock()
		c.busy.Store(false)
		c.shutdown(closeReq{cause: err, hard: true}, true)
		return err
	}
	if hasPre {
		s.tasks <- c
	}
	return nil
}

// Close closes every connection (without a close frame: for a graceful
// shutdown, Range over the connections and Close them first), waits for
// their OnClose calls, which may run on the calling goroutine, and stops the
// poller, the workers and the sweeper. It is safe to call more than once.
// It does not return while an OnMessage call is blocked.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		all := make([]*Conn, 0, len(s.conns))
		for _, c := range s.conns {
			all = append(all, c)
		}
		s.mu.Unlock()

		close(s.quit)
		s.sweeperWG.Wait()
		for _, c := range all {
			c.shutdown(closeReq{cause: ErrServerClosed, hard: true}, true)
		}
		s.connWG.Wait()

		err := s.poll.wake()
		if err == nil {
			s.pollerWG.Wait()
		}
		close(s.tasks)
		s.workersWG.Wait()
		s.closeErr = errors.Join(err, s.poll.close())
	})
	return s.closeErr
}

func (s *Server) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// Len returns the number of open connections: registered and not yet
// reported to OnClose.
func (s *Server) Len() int { return int(s.open.Load()) }

// Range calls fn for each open connection until fn returns false. It works
// on a snapshot, so fn may Send or Close.
func (s *Server) Range(fn func(*Conn) bool) {
	s.mu.RLock()
	snap := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		if !c.closing.Load() {
			snap = append(snap, c)
		}
	}
	s.mu.RUnlock()
	for _, c := range snap {
		if !fn(c) {
			return
		}
	}
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	st := &s.stats
	return Stats{
		Opened:         st.opened.Load(),
		Closed:         st.closed.Load(),
		UpgradeErrors:  st.upgradeErrors.Load(),
		MessagesIn:     st.messagesIn.Load(),
		FramesIn:       st.framesIn.Load(),
		FramesOut:      st.framesOut.Load(),
		BytesIn:        st.bytesIn.Load(),
		BytesOut:       st.bytesOut.Load(),
		SlowConsumers:  st.slowConsumers.Load(),
		Oversize:       st.oversize.Load(),
		ProtocolErrors: st.protocolErrors.Load(),
		ReadTimeouts:   st.readTimeouts.Load(),
		IdleTimeouts:   st.idleTimeouts.Load(),
		Deflate:        st.deflate.Load(),
		Compressions:   st.compressions.Load(),
		CompressedOut:  st.compressedOut.Load(),
		Writes:         st.writes.Load(),
		InflatedIn:     st.inflatedIn.Load(),
	}
}

// now is the time on the server's monotonic clock, in nanoseconds.
func (s *Server) now() int64 { return int64(time.Since(s.start)) }

func (s *Server) reportError(err error) {
	if f := s.opts.OnError; f != nil {
		f(err)
	}
}

// pollLoop hands connections that epoll reports ready to the workers. The
// busy flag makes sure a connection is queued at most once at a time; an
// event for a busy connection is dropped, and whoever holds it re-arms it.
func (s *Server) pollLoop() {
	defer s.pollerWG.Done()
	var ready []*Conn
	err := s.poll.wait(func(ids []uint64) {
		now := s.now()
		ready = ready[:0]
		s.mu.RLock()
		for _, id := range ids {
			if c := s.conns[id]; c != nil {
				ready = append(ready, c)
			}
		}
		s.mu.RUnlock()
		for i, c := range ready {
			if c.busy.CompareAndSwap(false, true) {
				c.lastRead.Store(now) // when its bytes were seen: ReadAge
				s.tasks <- c          // blocks while every worker is busy: backpressure
			}
			ready[i] = nil
		}
	})
	if err != nil {
		s.reportError(err)
	}
}

// tryDispatch queues c (whose busy flag the caller holds) for a worker
// without blocking, for a worker that wants to yield.
func (s *Server) tryDispatch(c *Conn) bool {
	select {
	case s.tasks <- c:
		return true
	default:
		return false
	}
}

func (s *Server) sweepPeriod() time.Duration {
	var d time.Duration
	if s.opts.IdleTimeout > 0 {
		d = s.opts.IdleTimeout
	}
	if p := s.opts.PingInterval; p > 0 && (d == 0 || p < d) {
		d = p
	}
	if d == 0 {
		return 0
	}
	return max(d/4, 10*time.Millisecond)
}

// sweepLoop closes idle connections and pings silent ones. One goroutine
// walks the table every period; no per-connection timers exist.
func (s *Server) sweepLoop(period time.Duration) {
	defer s.sweeperWG.Done()
	t := time.NewTicker(period)
	defer t.Stop()
	idle, ping := int64(s.opts.IdleTimeout), int64(s.opts.PingInterval)
	var victims, silent []*Conn
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		now := s.now()
		s.mu.RLock()
		for _, c := range s.conns {
			if c.closing.Load() {
				continue
			}
			quiet := now - c.lastRead.Load()
			switch {
			case idle > 0 && quiet > idle:
				victims = append(victims, c)
			case ping > 0 && quiet > ping && !c.pinged.Load():
				silent = append(silent, c)
			}
		}
		s.mu.RUnlock()
		for _, c := range victims {
			if !c.closing.Load() {
				s.stats.idleTimeouts.Add(1)
				c.shutdown(closeReq{cause: ErrIdleTimeout, code: ws.StatusGoingAway, reason: "idle timeout", frame: true}, false)
			}
		}
		for _, c := range silent {
			c.pinged.Store(true)
			c.enqueue(ws.OpPing, nil)
		}
		clear(victims)
		clear(silent)
		victims, silent = victims[:0], silent[:0]
	}
}

// highWater is the write queue length at which reading pauses.
func (s *Server) highWater() int { return max(1, s.opts.WriteQueue/2) }

func (s *Server) getBuf() *[]byte { return s.bufs.Get().(*[]byte) }

func (s *Server) putBuf(b *[]byte) {
	*b = (*b)[:0]
	s.bufs.Put(b)
}
