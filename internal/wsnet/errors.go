package wsnet

import (
	"errors"
	"fmt"

	"github.com/gobwas/ws"
)

// Errors passed to Handler.OnClose (possibly wrapped) to tell why a
// connection ended. Test with errors.Is.
var (
	// ErrServerClosed: Server.Close was called. Upgrade also returns it
	// once the server is closed.
	ErrServerClosed = errors.New("wsnet: server closed")
	// ErrSlowConsumer: the connection's write queue overflowed.
	ErrSlowConsumer = errors.New("wsnet: slow consumer: write queue full")
	// ErrIdleTimeout: nothing was received for longer than Options.IdleTimeout.
	ErrIdleTimeout = errors.New("wsnet: idle timeout")
	// ErrReadTimeout: a frame was started but not finished within
	// Options.ReadTimeout.
	ErrReadTimeout = errors.New("wsnet: read timeout")
	// ErrMessageTooBig: a message exceeded Options.MaxMessageSize (status 1009).
	ErrMessageTooBig = errors.New("wsnet: message too big")
	// ErrUnsupportedData: the client sent a binary message (status 1003).
	ErrUnsupportedData = errors.New("wsnet: binary messages are not supported")
	// ErrInvalidUTF8: a text message was not valid UTF-8 (status 1007).
	ErrInvalidUTF8 = errors.New("wsnet: invalid UTF-8 in text message")
	// ErrProtocol: the client violated RFC 6455 (status 1002). The error
	// usually also wraps the ws.ProtocolError that describes the violation.
	ErrProtocol = errors.New("wsnet: protocol error")
	// ErrUnsupportedConn: the connection is not a plain socket (for example
	// TLS terminated by net/http); Upgrade refuses it.
	ErrUnsupportedConn = errors.New("wsnet: connection does not expose a socket (terminate TLS in front of the server)")
)

// CloseError reports a close frame: one received from the client (Remote is
// true) or one requested with Conn.Close (Remote is false).
type CloseError struct {
	Code   ws.StatusCode // ws.StatusNoStatusRcvd when the frame carried no code
	Reason string
	Remote bool
}

// Error implements error.
func (e *CloseError) Error() string {
	who := "server"
	if e.Remote {
		who = "client"
	}
	return fmt.Sprintf("wsnet: closed by %s: %d %q", who, e.Code, e.Reason)
}

// errWouldBlock is returned by the first read of a wake-up when the socket
// had nothing to read after all (a spurious wake-up); nothing was consumed.
var errWouldBlock = errors.New("wsnet: read would block")

// closeCmd is returned by the read path when the connection must be closed
// with a close frame.
type closeCmd struct {
	code   ws.StatusCode // 0: close frame without a status code
	reason string
	cause  error // what OnClose receives
	peer   bool  // the client sent a close frame first
}

func (c *closeCmd) Error() string { return c.cause.Error() }
func (c *closeCmd) Unwrap() error { return c.cause }
