// Package redisproc runs a redis-server process on a free loopback port,
// for the tests and the load tool: started, killed and restarted on the
// same port, keeping nothing on disk.
package redisproc

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Options tune the server; the zero value works.
type Options struct {
	MaxClients int // default: redis-server's (10000)
	// Install allows apt-get install redis-server when the binary is
	// missing and the process runs as root.
	Install bool
	Logf    func(format string, args ...any)
	// Args are more redis-server arguments (for example
	// "--cluster-enabled", "yes"); ports they name must be free already.
	Args []string
}

// Server is a running redis-server.
type Server struct {
	Port int
	dir  string
	bin  string
	opts Options
	// conf, when set, is a config file written into dir before each start
	// (a sentinel rewrites its own), given to redis-server first.
	conf func(port int) string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Binary finds redis-server, installing it with apt-get when allowed.
func Binary(install bool, logf func(string, ...any)) (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	if !install || os.Geteuid() != 0 {
		return "", fmt.Errorf("redis-server not found on PATH; install it (apt-get install redis-server) or give a Redis URL")
	}
	if logf != nil {
		logf("redis-server missing: installing it with apt-get")
	}
	for _, args := range [][]string{{"update"}, {"install", "-y", "redis-server"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get %v: %v\n%s", args, err, out)
		}
	}
	return exec.LookPath("redis-server")
}

// Start runs redis-server on a free 127.0.0.1 port, with its files (a log)
// in a new temp folder removed by Stop.
func Start(o Options) (*Server, error) {
	return start(o, nil, freePort)
}

// start runs a server on a port from port, with conf as its config file
// when not nil.
func start(o Options, conf func(port int) string, port func() (int, error)) (*Server, error) {
	bin, err := Binary(o.Install, o.Logf)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "im-redis-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin, opts: o, conf: conf}
	for try := 0; try < 5; try++ {
		if s.Port, err = port(); err != nil {
			break
		}
		if err = s.start(); err == nil {
			return s, nil
		}
	}
	_ = os.RemoveAll(dir)
	return nil, err
}

// URL is redis://127.0.0.1:port/0.
func (s *Server) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.Port) }

// Addr is 127.0.0.1:port.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.Port) }

func (s *Server) start() error {
	var args []string
	if s.conf != nil {
		// A sentinel needs a config file it can rewrite: written on the
		// first start only, so a restart keeps what it learned.
		p := filepath.Join(s.dir, "redis.conf")
		if _, err := os.Stat(p); err != nil {
			if err := os.WriteFile(p, []byte(s.conf(s.Port)), 0o600); err != nil {
				return err
			}
		}
		args = append(args, p)
	}
	args = append(args, "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--protected-mode", "yes")
	args = append(args, s.opts.Args...)
	if s.opts.MaxClients > 0 {
		args = append(args, "--maxclients", strconv.Itoa(s.opts.MaxClients))
	}
	cmd := exec.Command(s.bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logFile, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	addr := fmt.Sprintf("127.0.0.1:%d", s.Port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if Ping(addr) == nil {
			s.mu.Lock()
			s.cmd, s.exited = cmd, exited
			s.mu.Unlock()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited at start (see %s)", addr, filepath.Join(s.dir, "redis.log"))
		case <-time.After(20 * time.Millisecond):
		}
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("redis-server on %s did not answer PING in 10s", addr)
}

// Ping sends PING to a Redis at addr and expects PONG.
func Ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("unexpected %q", line)
	}
	return nil
}

// PID is the server process's id (0 when it is not running).
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Kill stops the server with SIGKILL (its data, kept in memory, is lost).
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
		s.cmd = nil
	}
}

// Restart starts the server again on the same port.
func (s *Server) Restart(ctx context.Context) error {
	s.Kill()
	var last error
	for ctx.Err() == nil {
		if last = s.start(); last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("restart redis: %w (last: %v)", ctx.Err(), last)
}

// Stop kills the server and removes its folder.
func (s *Server) Stop() {
	s.Kill()
	_ = os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
