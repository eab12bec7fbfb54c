package securitytest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/app"
	"github.com/im-websocket-go/im-websocket-go/internal/gateway"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

// TestForeignOriginRefused: with an allowlist, an upgrade from any other
// Origin is refused (403) before anything else, even with a valid token;
// allowed and absent Origins connect. The REST API grants no CORS access
// to a foreign Origin.
func TestForeignOriginRefused(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{}, func(o *gateway.Options) {
		o.AllowedOrigins = []string{"https://chat.example"}
	})
	u := cl.Register("org")
	node := cl.Nodes[0].URL
	for _, origin := range []string{
		"https://evil.example", "null", "http://chat.example", "https://chat.example.evil.example",
		"https://chat.example:8443", "https://evil.example/https://chat.example",
	} {
		hdr := http.Header{"Origin": {origin}}
		expectError(t, "origin "+origin, upgrade(t, node, u.Token, hdr), 403, protocol.CodeForbidden)
		expectError(t, "origin "+origin+" with access_token", upgrade(t, node+"?access_token="+u.Token, "", hdr), 403, protocol.CodeForbidden)
	}
	for _, hdr := range []http.Header{{"Origin": {"https://chat.example"}}, nil} {
		c, err := apitest.TryDialWS(node, u.Token, hdr)
		if err != nil {
			t.Fatalf("origin %v: %v", hdr, err)
		}
		c.Conn.Close()
	}
	// CORS: a preflight or a request from a foreign Origin gets no
	// Access-Control-Allow-Origin.
	for _, method := range []string{"OPTIONS", "GET"} {
		req, _ := http.NewRequest(method, cl.URL+"/v1/me", nil)
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Access-Control-Request-Method", "GET")
		req.Header.Set("Authorization", "Bearer "+u.Token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("%s from a foreign origin: Access-Control-Allow-Origin %q", method, v)
		}
	}
}

// TestOversizedInputRefused: REST bodies over the limit get 413 (with and
// without Content-Length); a WebSocket message over the frame limit, in
// one frame or in fragments, closes the connection with 1009; a message
// body over 4000 characters is refused on both paths.
func TestOversizedInputRefused(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{})
	w := newWorld(t, cl.Env)
	big := `{"body":"` + strings.Repeat("x", 70<<10) + `","client_msg_id":"big"}`
	for _, c := range []struct{ method, path, token string }{
		{"POST", "/v1/auth/login", ""},
		{"POST", "/v1/auth/register", ""},
		{"PATCH", "/v1/me", w.owner.Token},
		{"POST", "/v1/rooms/" + w.direct + "/messages", w.owner.Token},
		{"POST", "/v1/groups", w.owner.Token},
	} {
		expectError(t, c.method+" "+c.path, cl.Do(c.method, c.path, c.token, big), 413, protocol.CodePayloadTooLarge)
		// Chunked, no Content-Length: the limit holds while reading.
		req, _ := http.NewRequest(c.method, cl.URL+c.path, io.MultiReader(strings.NewReader(big)))
		req.ContentLength = -1
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		expectError(t, c.method+" "+c.path+" chunked", apitest.Resp{Status: res.StatusCode, Body: b}, 413, protocol.CodePayloadTooLarge)
	}
	long := strings.Repeat("é", protocol.MaxBodyRunes+1)
	r := cl.Do("POST", "/v1/rooms/"+w.direct+"/messages", w.owner.Token, map[string]string{"body": long, "client_msg_id": "long"})
	expectError(t, "REST body over 4000 characters", r, 413, protocol.CodePayloadTooLarge)

	node := cl.Nodes[0].URL
	c := apitest.DialWS(t, node, w.owner.Token)
	_ = c.SendMsg(w.direct, long, "long")
	if o, err := c.Ack("long", wait); err != nil || o.Type != protocol.TypeError || o.Code != protocol.CodePayloadTooLarge {
		t.Fatalf("WebSocket body over 4000 characters: %+v %v", o, err)
	}
	_ = c.Send(strings.Replace(big, `{"body"`, `{"type":"send","room_id":"`+w.direct+`","body"`, 1))
	if code := c.CloseCode(wait); code != ws.StatusMessageTooBig {
		t.Fatalf("oversized frame: close %d (%v)", code, c.Err())
	}
	// Fragments adding up to more than the limit.
	c = apitest.DialWS(t, node, w.owner.Token)
	half := []byte(strings.Repeat("y", 40<<10))
	_ = ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewFrame(ws.OpText, false, half)))
	_ = ws.WriteFrame(c.Conn, ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, half)))
	if code := c.CloseCode(wait); code != ws.StatusMessageTooBig {
		t.Fatalf("oversized fragmented message: close %d (%v)", code, c.Err())
	}
	// The API and the node still serve.
	if r := cl.Do("GET", "/v1/me", w.owner.Token, nil); r.Status != 200 {
		t.Fatalf("after: %d", r.Status)
	}
	apitest.DialWS(t, node, w.owner.Token)
}

// serveWithTimeouts runs the API in an http.Server made by app.HTTPServer
// (the production settings) with the read timeouts shortened for the test.
func serveWithTimeouts(t *testing.T, e *apitest.Env, header, read time.Duration) string {
	srv := app.HTTPServer(e.API, e.Log)
	srv.ReadHeaderTimeout, srv.ReadTimeout = header, read
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

// trickle writes head at once, then tail one byte every step, until the
// server closes the connection; it returns what the server answered and
// how long until it hung up. A client still connected after limit fails
// the test.
func trickle(t *testing.T, addr, head, tail string, step, limit time.Duration) (string, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < len(tail); i++ {
			select {
			case <-stop:
				return
			case <-time.After(step):
			}
			if _, err := conn.Write([]byte{tail[i]}); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	got, err := io.ReadAll(conn)
	took := time.Since(start)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server kept a slow client for over %v (read %q)", limit, got)
	}
	return string(got), took
}

// TestServerTimeoutsCutSlowClients: a client that sends its headers, or
// its body, a byte at a time is disconnected by the server's timeouts
// (app.HTTPServer), and oversized headers are refused.
func TestServerTimeoutsCutSlowClients(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	const header, read = time.Second, 2 * time.Second
	addr := serveWithTimeouts(t, e, header, read)

	// Control: a normal request is served.
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("control: %d", res.StatusCode)
	}

	endless := strings.Repeat("X-Slow: a\r\n", 1000)
	got, took := trickle(t, addr, "GET /healthz HTTP/1.1\r\nHost: api\r\n", endless, 100*time.Millisecond, header+5*time.Second)
	t.Logf("slow headers: cut after %v, answer %q", took, got)
	if took < header-100*time.Millisecond || strings.Contains(got, " 200 ") {
		t.Fatalf("slow headers: cut after %v with %q", took, got)
	}

	body := `{"login":"someone","password":"` + strings.Repeat("p", 200) + `"}`
	head := fmt.Sprintf("POST /v1/auth/login HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	got, took = trickle(t, addr, head, body, 100*time.Millisecond, read+5*time.Second)
	t.Logf("slow body: cut after %v, answer %q", took, firstLine(got))
	if took < read-100*time.Millisecond || strings.HasPrefix(got, "HTTP/1.1 2") {
		t.Fatalf("slow body: cut after %v with %q", took, got)
	}

	// Headers over MaxHeaderBytes: 431 at once.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(wait))
	go func() {
		_, _ = io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: api\r\nX-Big: "+strings.Repeat("b", 64<<10)+"\r\n\r\n")
	}()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(line, "431") {
		t.Fatalf("huge headers: %q %v", line, err)
	}
}

// TestBodyReadErrorsDoNotLeakInternals: when reading a request body
// fails (here: the read timeout), the answer does not echo the internal
// error, which names the server's and the peer's network addresses.
func TestBodyReadErrorsDoNotLeakInternals(t *testing.T) {
	e := apitest.New(t, apitest.Options{})
	addr := serveWithTimeouts(t, e, time.Second, time.Second)
	body := `{"login":"someone","password":"` + strings.Repeat("p", 100) + `"}`
	head := fmt.Sprintf("POST /v1/auth/login HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	got, _ := trickle(t, addr, head, body, 100*time.Millisecond, 8*time.Second)
	_, resp, _ := strings.Cut(got, "\r\n\r\n")
	for _, leak := range []string{"tcp", "127.0.0.1", addr, "i/o timeout"} {
		if strings.Contains(resp, leak) {
			t.Errorf("the answer to a failed body read reveals %q: %s", leak, resp)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\r\n")
	return l
}

// TestWebSocketConnectionLimits: a user's connections on one node are
// bounded (MaxConnsPerUser): the extra one gets error rate_limited and
// close 1008, other users are unaffected, and a freed slot can be used
// again. A client that starts a frame and stalls is dropped after the
// transport's read timeout.
func TestWebSocketConnectionLimits(t *testing.T) {
	cl := apitest.NewCluster(t, 1, apitest.Options{}, func(o *gateway.Options) {
		o.MaxConnsPerUser = 2
		o.WS.ReadTimeout = time.Second
	})
	u, v := cl.Register("cap"), cl.Register("cap")
	node := cl.Nodes[0].URL
	c1 := apitest.DialWS(t, node, u.Token)
	apitest.DialWS(t, node, u.Token)
	for i := 0; i < 3; i++ {
		c3, err := apitest.TryDialWS(node, u.Token, nil)
		if err != nil {
			t.Fatal(err)
		}
		o, err := c3.Next(wait)
		if err != nil || o.Type != protocol.TypeError || o.Code != protocol.CodeRateLimited {
			t.Fatalf("connection over the limit: %+v %v", o, err)
		}
		if code := c3.CloseCode(wait); code != ws.StatusPolicyViolation {
			t.Fatalf("connection over the limit: close %d", code)
		}
	}
	apitest.DialWS(t, node, v.Token) // another user
	// Freeing a slot lets a new connection in (once the node saw the close).
	c1.Conn.Close()
	deadline := time.Now().Add(wait)
	for {
		c, err := apitest.TryDialWS(node, u.Token, nil)
		if err != nil {
			t.Fatal(err)
		}
		o, err := c.Next(wait)
		c.Conn.Close()
		if err == nil && o.Type == protocol.TypeHello {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed: %+v %v", o, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Half a frame, then silence: dropped after the read timeout.
	c := apitest.DialWS(t, node, v.Token)
	start := time.Now()
	frame := ws.MaskFrame(ws.NewTextFrame([]byte(`{"type":"ping"}`)))
	var full strings.Builder
	_ = ws.WriteFrame(&full, frame)
	if _, err := io.WriteString(c.Conn, full.String()[:5]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Closed:
	case <-time.After(wait):
		t.Fatal("a stalled half frame kept the connection open")
	}
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Fatalf("dropped after %v, before the read timeout", took)
	}
}
