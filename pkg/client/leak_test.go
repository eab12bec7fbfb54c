package client_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/client"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// standalone runs cmd/standalone as a process on addr and dir and waits
// until it answers; the process is killed at the end of the test.
func standalone(t *testing.T, addr, dir, smtpAddr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t, "standalone"))
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "IM_DATA_DIR="+dir, "IM_HTTP_ADDR="+addr,
		"IM_SMTP_ADDR="+smtpAddr, "IM_SMTP_TLS=none", "IM_LOG_LEVEL=warn")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("standalone output:\n%s", logs.String())
		}
	})
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	for end := time.Now().Add(60 * time.Second); ; {
		if res, err := hc.Get("http://" + addr + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return cmd
			}
		}
		if time.Now().After(end) {
			t.Fatalf("standalone did not answer in 60s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond) // polling a process that is starting
	}
}

// goleak on the whole test process: with the server in another process
// (cmd/standalone), every goroutine that appears during the test is the
// client's or the test's own. Two clients exchange messages, live and
// across a kill -9 and restart of the server; one is closed while a send
// waits for a connection, a dial fails; after Close nothing is left.
func TestNoGoroutineLeak(t *testing.T) {
	sink := testenv.NewSMTPSink(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	srv := standalone(t, addr, dir, sink.Addr)
	e := &apitest.Env{T: t, URL: "http://" + addr, SMTP: sink}
	a, b := e.Register("ga"), e.Register("gb")
	room := e.Befriend(a, b)
	http.DefaultClient.CloseIdleConnections()
	before := goleak.IgnoreCurrent()

	url := []string{"ws://" + addr + "/ws"}
	ca := dial(t, a, url, client.Options{})
	cb := dial(t, b, url, client.Options{Rooms: map[string]int64{room: 0}})
	first := sendN(t, ca, room, "one", 3)
	sameMessages(t, messages(t, cb, room, 3), first)

	// The server dies and comes back on the same address and data.
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.Wait()
	next[*client.DisconnectedEvent](t, cb, nil)
	standalone(t, addr, dir, sink.Addr)
	second := sendN(t, ca, room, "two", 3) // waits for ca's reconnect
	sameMessages(t, messages(t, cb, room, 3), second)

	// A dial that cannot connect, and a send cut short by Close.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	if _, err := client.Dial(ctx, client.Options{URLs: []string{"ws://127.0.0.1:1/ws"}, Token: client.StaticToken(a.Token)}); err == nil {
		t.Fatal("dial of a closed port succeeded")
	}
	cancel()
	c3, err := client.New(client.Options{URLs: []string{"ws://127.0.0.1:1/ws"}, Token: client.StaticToken(a.Token)})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c3.Send(context.Background(), room, "never", client.SendOptions{})
		errc <- err
	}()
	_ = c3.Close()
	if err := <-errc; !errors.Is(err, client.ErrClosed) {
		t.Fatalf("send cut short by Close: %v", err)
	}

	_ = ca.Close()
	_ = cb.Close()
	// The restarted server's output copier is the test's own, not the
	// client's.
	goleak.VerifyNone(t, before, goleak.IgnoreAnyFunction("os/exec.(*Cmd).Start.func2"))
}
