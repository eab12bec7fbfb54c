package testenv

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
	"testing"
	"time"
)

var (
	redisOnce sync.Once
	redisURL  string
	redisErr  error
)

// RedisURL returns the URL of the shared test Redis (IM_TEST_REDIS_URL, or
// a redis-server this process started).
func RedisURL(tb testing.TB) string {
	tb.Helper()
	redisOnce.Do(func() {
		if u := os.Getenv("IM_TEST_REDIS_URL"); u != "" {
			redisURL = u
			logf("using Redis at IM_TEST_REDIS_URL")
			return
		}
		var s *RedisServer
		s, redisErr = startRedis()
		if redisErr != nil {
			return
		}
		redisURL = s.URL()
		atExit(s.Stop)
	})
	if redisErr != nil {
		tb.Fatalf("testenv: redis: %v", redisErr)
	}
	return redisURL
}

// RedisServer is a redis-server process owned by one test, for tests that
// kill or restart Redis.
type RedisServer struct {
	Port int
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
}

// NewRedisServer starts a private redis-server, stopped at the test's end.
func NewRedisServer(tb testing.TB) *RedisServer {
	tb.Helper()
	s, err := startRedis()
	if err != nil {
		tb.Fatalf("testenv: redis: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// URL is redis://127.0.0.1:port/0.
func (s *RedisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.Port) }

func redisBinary() (string, error) {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("redis-server not found on PATH; install it (apt-get install redis-server) or set IM_TEST_REDIS_URL")
	}
	logf("redis-server missing: installing it with apt-get")
	for _, args := range [][]string{{"update"}, {"install", "-y", "redis-server"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("apt-get %v: %v\n%s", args, err, out)
		}
	}
	return exec.LookPath("redis-server")
}

func startRedis() (*RedisServer, error) {
	bin, err := redisBinary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "im-redis-")
	if err != nil {
		return nil, err
	}
	s := &RedisServer{dir: dir}
	for try := 0; try < 5; try++ {
		s.Port, err = freePort()
		if err != nil {
			return nil, err
		}
		if err = s.start(bin); err == nil {
			logf("started redis-server on 127.0.0.1:%d", s.Port)
			return s, nil
		}
	}
	return nil, err
}

func (s *RedisServer) start(bin string) error {
	cmd := exec.Command(bin, "--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--protected-mode", "yes")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logFile, err := os.Create(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	go func() { _ = cmd.Wait(); logFile.Close() }()
	addr := fmt.Sprintf("127.0.0.1:%d", s.Port)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if redisPing(addr) == nil {
			s.mu.Lock()
			s.cmd = cmd
			s.mu.Unlock()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return fmt.Errorf("redis-server on %s did not answer PING in 10s", addr)
}

func redisPing(addr string) error {
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

// Kill stops the server with SIGKILL (its data, kept in memory only, is lost).
func (s *RedisServer) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Kill()
		_, _ = s.cmd.Process.Wait()
		s.cmd = nil
	}
}

// Restart starts the server again on the same port.
func (s *RedisServer) Restart(ctx context.Context) error {
	s.Kill()
	bin, err := redisBinary()
	if err != nil {
		return err
	}
	var last error
	for ctx.Err() == nil {
		if last = s.start(bin); last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("restart redis: %w (last: %v)", ctx.Err(), last)
}

// Stop kills the server and removes its folder.
func (s *RedisServer) Stop() {
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
