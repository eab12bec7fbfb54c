package testenv

import (
	"os"
	"sync"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/redisproc"
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
// kill or restart Redis (Kill, Restart).
type RedisServer = redisproc.Server

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

func startRedis() (*RedisServer, error) {
	s, err := redisproc.Start(redisproc.Options{Install: true, Logf: logf})
	if err == nil {
		logf("started redis-server on 127.0.0.1:%d", s.Port)
	}
	return s, err
}

func redisPing(addr string) error { return redisproc.Ping(addr) }
