//go:build linux

package wsnet

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// connEvents is what a connection is registered for. EPOLLONESHOT disables
// the registration once an event is reported, so a connection is handed to
// one worker at a time; the worker re-arms it with EPOLL_CTL_MOD, and since
// epoll is level-triggered, bytes still unread by then fire again at once.
const connEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT

// wakeID is the id of the eventfd used to stop wait; connection ids start at 1.
const wakeID = 0

// maxEvents is how many events one epoll_wait call returns at most.
const maxEvents = 256

type epoll struct {
	fd  int // the epoll instance
	efd int // eventfd that wakes wait
}

func newPoller() (poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("wsnet: epoll_create1: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("wsnet: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setEventID(&ev, wakeID)
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(efd)
		unix.Close(fd)
		return nil, fmt.Errorf("wsnet: epoll_ctl add eventfd: %w", err)
	}
	return &epoll{fd: fd, efd: efd}, nil
}

// setEventID stores id in the 64-bit data field of ev, which x/sys splits
// into Fd (low half) and Pad (high half) on every Linux architecture.
func setEventID(ev *unix.EpollEvent, id uint64) {
	ev.Fd = int32(uint32(id))
	ev.Pad = int32(uint32(id >> 32))
}

func eventID(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

func (p *epoll) ctl(rc syscall.RawConn, op int, id uint64) error {
	if rc == nil {
		return nil
	}
	ev := unix.EpollEvent{Events: connEvents}
	setEventID(&ev, id)
	var cerr error
	err := rc.Control(func(fd uintptr) {
		cerr = unix.EpollCtl(p.fd, op, int(fd), &ev)
	})
	if err != nil {
		return err
	}
	return cerr
}

func (p *epoll) add(rc syscall.RawConn, id uint64) error {
	if err := p.ctl(rc, unix.EPOLL_CTL_ADD, id); err != nil {
		return fmt.Errorf("epoll_ctl add: %w", err)
	}
	return nil
}

func (p *epoll) rearm(rc syscall.RawConn, id uint64) error {
	if err := p.ctl(rc, unix.EPOLL_CTL_MOD, id); err != nil {
		return fmt.Errorf("epoll_ctl mod: %w", err)
	}
	return nil
}

func (p *epoll) remove(rc syscall.RawConn) error {
	if err := p.ctl(rc, unix.EPOLL_CTL_DEL, 0); err != nil {
		return fmt.Errorf("epoll_ctl del: %w", err)
	}
	return nil
}

func (p *epoll) wait(fn func(ids []uint64)) error {
	events := make([]unix.EpollEvent, maxEvents)
	ids := make([]uint64, 0, maxEvents)
	for {
		n, err := unix.EpollWait(p.fd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("wsnet: epoll_wait: %w", err)
		}
		ids = ids[:0]
		stop := false
		for i := range n {
			id := eventID(&events[i])
			if id == wakeID {
				stop = true
				continue
			}
			ids = append(ids, id)
		}
		if len(ids) > 0 {
			fn(ids)
		}
		if stop {
			return nil
		}
	}
}

func (p *epoll) wake() error {
	one := [8]byte{1} // any non-zero counter value wakes the eventfd
	for {
		_, err := unix.Write(p.efd, one[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil && !errors.Is(err, unix.EAGAIN) { // EAGAIN: already signalled
			return fmt.Errorf("wsnet: eventfd write: %w", err)
		}
		return nil
	}
}

func (p *epoll) close() error {
	return errors.Join(unix.Close(p.efd), unix.Close(p.fd))
}

// readNonblock makes one read(2) attempt on the socket without waiting.
// again reports that there was nothing to read.
func readNonblock(rc syscall.RawConn, p []byte) (n int, again bool, err error) {
	var rerr error
	cerr := rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = unix.Read(int(fd), p)
			if !errors.Is(rerr, unix.EINTR) {
				return true // never let the runtime wait: this read must not block
			}
		}
	})
	switch {
	case cerr != nil:
		return 0, false, cerr
	case errors.Is(rerr, unix.EAGAIN):
		return 0, true, nil
	case rerr != nil:
		return 0, false, os.NewSyscallError("read", rerr)
	case n == 0 && len(p) > 0:
		return 0, false, io.EOF
	}
	return n, false, nil
}
