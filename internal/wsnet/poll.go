package wsnet

import "syscall"

// poller is the readiness notifier behind a Server: epoll on Linux.
// Connections are identified by a non-zero id carried in the event, never by
// their file descriptor number, so an event that was already in flight when a
// connection closed cannot be mistaken for a newer connection that reuses the
// descriptor.
//
// add, rearm and remove reach the descriptor through rc.Control, which keeps
// it from being closed (and its number reused) during the call. A nil rc is
// ignored, which lets the read path be exercised over a net.Conn that has no
// socket (tests).
type poller interface {
	// add registers a socket in one-shot mode.
	add(rc syscall.RawConn, id uint64) error
	// rearm re-enables a socket after its event has been handled.
	rearm(rc syscall.RawConn, id uint64) error
	// remove unregisters a socket; it must be called before closing it.
	remove(rc syscall.RawConn) error
	// wait delivers the ids of ready sockets to fn until wake is called.
	wait(fn func(ids []uint64)) error
	// wake makes wait return.
	wake() error
	// close releases the poller; call it after wait has returned.
	close() error
}
