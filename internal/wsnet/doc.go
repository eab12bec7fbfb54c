// Package wsnet is a WebSocket server transport built for many mostly idle
// connections, in the style of Mail.Ru's "million WebSockets" design.
//
// gobwas/ws does the HTTP upgrade and the framing. After the upgrade the
// socket is registered with an epoll instance (Linux only) in one-shot mode,
// and a single poller goroutine hands sockets that have data to a bounded pool
// of worker goroutines. An idle connection therefore owns no goroutine and no
// read buffer: what it costs is its Conn (a couple of hundred bytes), the
// net.TCPConn behind it, an entry in the server's table and the kernel's
// socket buffers.
//
// Reading. A worker takes a connection, reads and handles the complete
// frames available (up to a fairness limit), delivers each complete text
// message to Handler.OnMessage and re-arms the socket. Because the socket is
// registered with EPOLLONESHOT and re-armed only when the worker is done, one
// connection is never read by two workers at once, and calls to OnMessage for
// one Conn are never concurrent. Once the first byte of a frame has been
// read, the rest of it must arrive within Options.ReadTimeout or the
// connection is dropped, so a client that stops half way through a frame
// holds a worker for at most that long. Read buffers come from a sync.Pool.
//
// Writing. Each connection has a bounded queue of outgoing messages. A writer
// goroutine exists only while the queue is not empty: it writes everything
// queued in one writev call (net.Buffers) under Options.WriteTimeout and
// exits when the queue is drained. A client that does not read fast enough
// fills its queue; the next Send fails and the connection is closed with
// status 1008 ("slow consumer").
//
// Closing. Every connection ends exactly once: the reading side and the
// writing side each give up their hold on it, and whichever is last removes
// the socket from epoll, closes it and calls Handler.OnClose. After the
// server's own close frame has been sent, the socket is half-closed and the
// client's remaining bytes are discarded for up to Options.CloseTimeout, so
// that the kernel does not answer them with a reset that could destroy the
// close frame before the client has read it.
//
// Compression. With Options.Deflate, a client that offers permessage-deflate
// (RFC 7692) gets it without context takeover either way, so a connection
// keeps no compression state. Send compresses a message of at least
// Options.DeflateThreshold bytes once, whatever the number of deflate
// connections it is sent to (the compressed form of recent frames is
// cached by their identity); the same queued frame carries RSV1. Compressed
// client messages are inflated after they are read, with MaxMessageSize
// bounding the inflated size (1009 past it).
//
// The application protocol is not this package's concern: it delivers text
// payloads and writes the bytes it is given. Binary messages are refused
// with status 1003, invalid UTF-8 with 1007, oversized messages with 1009 and
// any violation of RFC 6455 (unmasked client frames, bad opcodes, ...) with
// 1002. TLS must be terminated in front of the server: the transport needs
// the raw TCP socket.
package wsnet
