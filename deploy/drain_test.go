package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"

	"github.com/gobwas/ws"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// lockedBuffer collects a process's output from two pipes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// buildGateway returns the gateway binary (testenv.Binary).
func buildGateway(t *testing.T) string { return testenv.Binary(t, "gateway") }

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// getStatus GETs url with a fresh connection (as the kubelet's probes do);
// 0 means no answer (the port is closed).
func getStatus(url string) int {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Get(url)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode
}

type readyzPoll struct {
	start, end time.Time
	status     int
}

type clientRecord struct {
	reconnectAt time.Time
	reason      string
	readyz      int // /readyz status right after the reconnect frame
	closedAt    time.Time
	closeCode   ws.StatusCode
	err         error
}

// TestGatewayProcessDrainsOnSIGTERM runs the real gateway binary against the
// test Redis and MongoDB, with an API for registration and the JWKS, and
// checks what a rolling update relies on: on SIGTERM readiness fails (so
// the pod leaves the endpoints), every client gets `reconnect` and a close,
// and the process exits 0 within IM_SHUTDOWN_GRACE.
func TestGatewayProcessDrainsOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/gateway")
	}
	bin := buildGateway(t)
	e := apitest.New(t, apitest.Options{})
	wsAddr, adminAddr := freeAddr(t), freeAddr(t)
	const grace = 10 * time.Second
	readyURL := "http://" + adminAddr + "/readyz"
	wsURL := "ws://" + wsAddr + "/ws"

	cmd := exec.Command(bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "IM_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"IM_MONGO_URI="+e.Config.MongoURI,
		"IM_MONGO_DB="+e.Config.MongoDB,
		"IM_REDIS_URL="+e.Config.RedisURL,
		"IM_JWKS_URL="+e.URL+"/.well-known/jwks.json",
		"IM_JWT_ISSUER="+e.Config.JWTIssuer,
		"IM_JWT_AUDIENCE="+e.Config.JWTAudience,
		"IM_WS_ADDR="+wsAddr,
		"IM_ADMIN_ADDR="+adminAddr,
		"IM_SHUTDOWN_GRACE="+grace.String(),
		"IM_NODE_ID=deploy-test-gateway",
		"IM_LOG_LEVEL=info",
	)
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	var exitAt time.Time
	go func() {
		waitErr = cmd.Wait()
		exitAt = time.Now()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("gateway output:\n%s", logs.String())
		}
	})

	// Ready within a bounded time (or the process died).
	deadline := time.Now().Add(60 * time.Second)
	for getStatus(readyURL) != http.StatusOK {
		select {
		case <-exited:
			t.Fatalf("gateway exited before ready: %v", waitErr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("gateway not ready within 60s")
		}
	}
	if s := getStatus("http://" + adminAddr + "/healthz"); s != http.StatusOK {
		t.Fatalf("/healthz: %d", s)
	}

	// Clients of two users, connected to the process.
	const perUser = 3
	var clients []*apitest.WS
	for _, u := range []*apitest.User{e.Register("draina"), e.Register("drainb")} {
		for range perUser {
			c := apitest.DialWS(t, wsURL, u.Token)
			if c.Hello.Node != "deploy-test-gateway" || c.Hello.UserID != u.ID {
				t.Fatalf("hello %+v: want node deploy-test-gateway, user %s", c.Hello, u.ID)
			}
			clients = append(clients, c)
		}
	}
	token := e.Register("drainc").Token
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		m := metricValue(t, "http://"+adminAddr+"/metrics", "im_gateway_connections")
		if m == fmt.Sprint(len(clients)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("im_gateway_connections = %q, want %d", m, len(clients))
		}
	}

	// Watch readiness and every client from here on.
	var (
		pmu   sync.Mutex
		polls []readyzPoll
	)
	pollCtx, stopPolling := context.WithCancel(context.Background())
	var pollWG sync.WaitGroup
	pollWG.Add(1)
	firstOK := make(chan struct{})
	go func() {
		defer pollWG.Done()
		sawOK := false
		for n := 0; pollCtx.Err() == nil && n < 100000; n++ {
			st := time.Now()
			code := getStatus(readyURL)
			pmu.Lock()
			polls = append(polls, readyzPoll{start: st, end: time.Now(), status: code})
			pmu.Unlock()
			if code == http.StatusOK && !sawOK {
				sawOK = true
				close(firstOK)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	defer func() { stopPolling(); pollWG.Wait() }()

	records := make([]clientRecord, len(clients))
	var cwg sync.WaitGroup
	for i, c := range clients {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			r := &records[i]
			o, err := c.WaitFor(30*time.Second, func(o protocol.Outbound) bool { return o.Type == protocol.TypeReconnect })
			if err != nil {
				r.err = err
				return
			}
			r.reconnectAt, r.reason = time.Now(), o.Reason
			r.readyz = getStatus(readyURL)
			select {
			case <-c.Closed:
				r.closedAt = time.Now()
				r.closeCode = c.CloseCode(time.Second) // already closed: returns at once
			case <-time.After(grace):
				r.err = errors.New("connection not closed after reconnect")
			}
		}()
	}

	// Readiness seen 200 by the poller before the signal.
	select {
	case <-firstOK:
	case <-time.After(10 * time.Second):
		t.Fatal("/readyz poller got no 200 before SIGTERM")
	}
	time.Sleep(20 * time.Millisecond)
	sigAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// Bounded: clients within the grace period (each goroutine bounds
	// itself), the process within grace plus a margin for the check.
	cwg.Wait()
	if _, err := apitest.TryDialWS(wsURL, token, nil); err == nil {
		t.Error("a new WebSocket upgrade succeeded while the gateway was draining")
	}
	select {
	case <-exited:
	case <-time.After(grace + 5*time.Second):
		t.Fatalf("gateway still running %v after SIGTERM (IM_SHUTDOWN_GRACE %v)", time.Since(sigAt), grace)
	}
	stopPolling()
	pollWG.Wait()

	// Exit: status 0 within the grace period.
	if waitErr != nil {
		t.Errorf("gateway exit: %v (want status 0)", waitErr)
	}
	if took := exitAt.Sub(sigAt); took >= grace {
		t.Errorf("gateway took %v to exit, IM_SHUTDOWN_GRACE is %v", took, grace)
	}

	// Every client was told to reconnect, then closed with 1001.
	var firstReconnect, lastClosed time.Time
	for i, r := range records {
		if r.err != nil {
			t.Errorf("client %d: %v", i, r.err)
			continue
		}
		if r.reason == "" {
			t.Errorf("client %d: reconnect without a reason", i)
		}
		if r.closeCode != ws.StatusGoingAway {
			t.Errorf("client %d: close code %d, want %d (going away); reader stopped with %v", i, r.closeCode, ws.StatusGoingAway, clients[i].Err())
		}
		if r.readyz == http.StatusOK {
			t.Errorf("client %d: /readyz still answered 200 after the client got reconnect", i)
		}
		if firstReconnect.IsZero() || r.reconnectAt.Before(firstReconnect) {
			firstReconnect = r.reconnectAt
		}
		if r.closedAt.After(lastClosed) {
			lastClosed = r.closedAt
		}
	}

	// Readiness: 200 before the signal, failing (503, or the port closed)
	// once the drain began, and never 200 again.
	var firstFail *readyzPoll
	oks := 0
	for i := range polls {
		p := &polls[i]
		if p.status == http.StatusOK {
			oks++
			if p.start.After(sigAt) && !firstReconnect.IsZero() && p.start.After(firstReconnect) {
				t.Errorf("/readyz answered 200 to a poll started %v after SIGTERM, after clients were told to reconnect",
					p.start.Sub(sigAt))
			}
			if firstFail != nil {
				t.Errorf("/readyz answered 200 again %v after it had failed", p.start.Sub(firstFail.end))
			}
			continue
		}
		if firstFail == nil {
			firstFail = p
			if p.end.Before(sigAt) {
				t.Errorf("/readyz failed (%d) before SIGTERM", p.status)
			}
		}
	}
	if oks == 0 {
		t.Error("/readyz was never polled 200 before SIGTERM")
	}
	if firstFail == nil {
		t.Fatal("/readyz never failed after SIGTERM")
	}
	if firstFail.status != http.StatusServiceUnavailable && firstFail.status != 0 {
		t.Errorf("/readyz first failed with %d, want 503 (or a closed port)", firstFail.status)
	}
	ms := func(x time.Time) string { return fmt.Sprintf("+%.1fms", float64(x.Sub(sigAt).Microseconds())/1000) }
	t.Logf("SIGTERM at 0; /readyz first failed (%d) by %s; first reconnect %s; last client closed %s; exit %s; %d readyz polls",
		firstFail.status, ms(firstFail.end), ms(firstReconnect), ms(lastClosed), ms(exitAt), len(polls))
	if !strings.Contains(logs.String(), "draining") {
		t.Errorf("gateway log has no drain line")
	}
}

// metricValue reads one unlabelled sample from a Prometheus text page.
func metricValue(t *testing.T, url, name string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Errorf("metric %s not found at %s", name, url)
	return ""
}
