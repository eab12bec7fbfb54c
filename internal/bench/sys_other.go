//go:build !linux

package bench

import (
	"errors"
	"syscall"
)

func bindNoPort(network, address string, c syscall.RawConn) error { return nil }

// RaiseNoFile is only implemented on Linux.
func RaiseNoFile(want uint64) (uint64, error) {
	return 0, errors.New("raising RLIMIT_NOFILE is only implemented on Linux")
}
