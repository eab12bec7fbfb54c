package wsnet

import (
	"fmt"
	"runtime"
	"time"
)

// Defaults used for zero Options fields.
const (
	DefaultMaxMessageSize = 64 << 10
	DefaultWriteQueue     = 256
	DefaultWriteTimeout   = 10 * time.Second
	DefaultReadTimeout    = 10 * time.Second
	DefaultIdleTimeout    = 90 * time.Second
	DefaultCloseTimeout   = 2 * time.Second

	// MaxWriteDelay bounds Options.WriteDelay: a coalescing window is meant
	// to be short next to what a person notices.
	MaxWriteDelay = 50 * time.Millisecond
)

// Options configures a Server. The zero value is ready to use: each zero
// field takes the default documented on it.
type Options struct {
	// Workers is the number of pool goroutines that read frames and call the
	// Handler. Default: max(32, 16*GOMAXPROCS). The pool is much larger than
	// the number of CPUs because OnMessage may wait on I/O (storing a message
	// before acknowledging it) and because a client that stalls in the
	// middle of a frame holds a worker for up to ReadTimeout. Each worker
	// costs a goroutine and a 4 KiB read buffer, plus a pooled message
	// buffer while it reads a message.
	Workers int

	// MaxMessageSize bounds a message, fragments included. A larger one
	// closes the connection with status 1009 (Message Too Big) before its
	// payload is read. Default: 64 KiB.
	MaxMessageSize int64

	// WriteQueue bounds the messages waiting to be written to one connection
	// (including the batch being written). When it is full, Send fails and
	// the connection is closed with status 1008 "slow consumer".
	// Default: 256.
	WriteQueue int

	// WriteTimeout bounds one batched write, and the HTTP upgrade response.
	// Default: 10s.
	WriteTimeout time.Duration

	// ReadTimeout is how long a client has to finish a frame (or a
	// fragmented message) once its first byte has been read. Default: 10s.
	ReadTimeout time.Duration

	// IdleTimeout closes, with status 1001, connections from which nothing
	// (not even a pong) was received for that long. Checked by one periodic
	// sweep over all connections, every IdleTimeout/4. Default: 90s;
	// negative disables it.
	IdleTimeout time.Duration

	// PingInterval, when positive, makes the server send a ping frame to
	// connections silent for that long (once per silence), so that clients
	// that only answer pings are not considered idle. Zero: no server
	// pings (the application protocol has its own heartbeat).
	PingInterval time.Duration

	// CloseTimeout bounds how long the server waits for the client to end
	// the connection after the server's close frame has been written; the
	// client's bytes are discarded meanwhile. Default: 2s.
	CloseTimeout time.Duration

	// Deflate enables permessage-deflate (RFC 7692): a client that offers
	// it gets its messages of at least DeflateThreshold bytes compressed,
	// and may send compressed ones. Context takeover is refused both ways
	// (the answer carries server_no_context_takeover and
	// client_no_context_takeover), so a connection keeps no compression
	// state and a frame sent to many connections is compressed once.
	// MaxMessageSize bounds the inflated size of a message. A client that
	// does not offer the extension is served as without this option.
	// Memory: no per-connection state; up to GOMAXPROCS flate writers
	// (about 1.2 MB each, made on first use, so Send may wait for one),
	// pooled flate readers (about 45 KB each) and the compressed form of
	// the last 64 frames sent.
	Deflate bool

	// DeflateThreshold is the smallest message compressed on a deflate
	// connection; smaller ones go out uncompressed (RSV1 clear). Default:
	// DefaultDeflateThreshold (512 bytes).
	DeflateThreshold int

	// WriteDelay, when positive, lets a connection whose writer is idle
	// wait that long before its queued messages are written, so that the
	// messages sent to it meanwhile go out in the same write (one writev
	// and, on the client, one read, instead of one each). A connection
	// whose writer is already busy is not delayed further: under load the
	// queue batches by itself. It trades at most WriteDelay of latency for
	// fewer system calls when many connections each receive a steady
	// stream (a large group's fan-out). At most MaxWriteDelay. Zero: each
	// message is written as soon as a writer is free.
	WriteDelay time.Duration

	// OnError, when set, receives unexpected internal errors (epoll
	// failures). Ordinary client misbehaviour and disconnects are reported
	// through Handler.OnClose and Stats instead.
	OnError func(error)
}

// DefaultWorkers is the size of the worker pool when Options.Workers is 0.
func DefaultWorkers() int { return max(32, 16*runtime.GOMAXPROCS(0)) }

// withDefaults fills zero fields and rejects impossible values.
func (o Options) withDefaults() (Options, error) {
	if o.Workers == 0 {
		o.Workers = DefaultWorkers()
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.WriteQueue == 0 {
		o.WriteQueue = DefaultWriteQueue
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.CloseTimeout == 0 {
		o.CloseTimeout = DefaultCloseTimeout
	}
	if o.DeflateThreshold == 0 {
		o.DeflateThreshold = DefaultDeflateThreshold
	}
	switch {
	case o.WriteDelay < 0 || o.WriteDelay > MaxWriteDelay:
		return o, fmt.Errorf("wsnet: WriteDelay %v outside [0, %v]", o.WriteDelay, MaxWriteDelay)
	case o.Workers < 0:
		return o, fmt.Errorf("wsnet: Workers %d < 0", o.Workers)
	case o.MaxMessageSize < 0:
		return o, fmt.Errorf("wsnet: MaxMessageSize %d < 0", o.MaxMessageSize)
	case o.WriteQueue < 0:
		return o, fmt.Errorf("wsnet: WriteQueue %d < 0", o.WriteQueue)
	case o.DeflateThreshold < 0:
		return o, fmt.Errorf("wsnet: DeflateThreshold %d < 0", o.DeflateThreshold)
	case o.WriteTimeout < 0 || o.ReadTimeout < 0 || o.CloseTimeout < 0 || o.PingInterval < 0:
		return o, fmt.Errorf("wsnet: negative timeout in options")
	}
	return o, nil
}
