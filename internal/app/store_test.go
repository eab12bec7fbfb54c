package app

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// A node started before its database (or while the database is too busy
// to answer) waits for it instead of exiting; a store that is wrong, not
// merely unavailable, fails at once, and the wait is bounded.
func TestStoreIsWaitedForAtStart(t *testing.T) {
	pg, err := url.Parse(testenv.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	// A loopback port where nothing listens yet: connections are refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	target := pg.Host
	pg.Host = addr
	cfg := config.Config{Store: "postgres", PostgresURL: pg.String()}

	core, logs := observer.New(zap.WarnLevel)
	type opened struct {
		st  store.Store
		err error
	}
	done := make(chan opened, 1)
	go func() {
		st, err := openStoreWaiting(context.Background(), cfg, "mongo", time.Minute, zap.New(core))
		done <- opened{st, err}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for logs.FilterMessage("store unavailable at start, trying again").Len() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no failed tries logged in 30 s")
		}
		select {
		case o := <-done:
			t.Fatalf("returned before the database was there: %v", o.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The database comes: a forwarder to the real one on that port.
	fl, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	go forward(fl, target)
	o := <-done
	if o.err != nil {
		t.Fatalf("the store did not open once the database was there: %v", o.err)
	}
	defer o.st.Close(context.Background())
	if err := o.st.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Not unavailable: at once.
	start := time.Now()
	bad := config.Config{Store: "postgres", PostgresURL: "postgres://x@127.0.0.1:1/db?sslmode=bogus"}
	if _, err := openStoreWaiting(context.Background(), bad, "mongo", time.Minute, nil); err == nil || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a bad URL: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a bad URL took %v", d)
	}
	// Unavailable for longer than the wait: the last error, after it.
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := *pg
	gone.Host = l2.Addr().String()
	l2.Close()
	_, err = openStoreWaiting(context.Background(), config.Config{Store: "postgres", PostgresURL: gone.String()}, "mongo", 700*time.Millisecond, nil)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a database that never came: %v, want unavailable", err)
	}
}

// forward accepts on l and pipes each connection to target.
func forward(l net.Listener, target string) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			u, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer u.Close()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			_, _ = io.Copy(c, u)
		}()
	}
}
