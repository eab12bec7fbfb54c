//go:build !linux

package wsnet

import (
	"errors"
	"syscall"
)

var errNotLinux = errors.New("wsnet: the epoll transport is only available on linux")

func newPoller() (poller, error) { return nil, errNotLinux }

func readNonblock(syscall.RawConn, []byte) (int, bool, error) { return 0, false, errNotLinux }
