package bench

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPort asks the kernel to pick the local port at connect time rather
// than at bind time (IP_BIND_ADDRESS_NO_PORT), so a source address is
// shared by connections to different destinations instead of using up its
// ephemeral ports at bind.
func bindNoPort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	_ = serr // best effort: an old kernel without it still works
	return nil
}

// RaiseNoFile raises RLIMIT_NOFILE to at least want (both limits when the
// process may, as root can), capped by fs.nr_open. It returns the soft
// limit in force.
func RaiseNoFile(want uint64) (uint64, error) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	if nrOpen := readIntFile("/proc/sys/fs/nr_open"); nrOpen > 0 && want > uint64(nrOpen) {
		want = uint64(nrOpen)
	}
	if want > lim.Max {
		raised := unix.Rlimit{Cur: want, Max: want}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &raised); err == nil {
			return want, nil
		}
		want = lim.Max // not allowed: take what the hard limit gives
	}
	lim.Cur = want
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}
