package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/outbox"
	"github.com/im-websocket-go/im-websocket-go/pkg/outbox/memoutbox"
)

const secret = Secret("0123456789abcdef-secret")

func TestSignVerify(t *testing.T) {
	body := []byte(`{"id":"x"}`)
	now := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	h.Set(HeaderTimestamp, fmt.Sprint(now.Unix()))
	h.Set(HeaderSignature, Sign(secret, now.Unix(), body))
	if err := Verify(secret, h, body, now.Add(time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	if err := Verify(secret, h, []byte(`{"id":"y"}`), now, 0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("altered body: %v", err)
	}
	if err := Verify("another-secret-0000", h, body, now, 0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := Verify(secret, h, body, now.Add(ReplayWindow+time.Second), 0); !errors.Is(err, ErrStale) {
		t.Fatalf("stale: %v", err)
	}
	if err := Verify(secret, h, body, now.Add(-ReplayWindow-time.Second), 0); !errors.Is(err, ErrStale) {
		t.Fatalf("from the future: %v", err)
	}
	h.Set(HeaderSignature, "v1=00,"+Sign(secret, now.Unix(), body))
	if err := Verify(secret, h, body, now, 0); err != nil {
		t.Fatalf("rotation list: %v", err)
	}
	if err := Verify(secret, http.Header{}, body, now, 0); !errors.Is(err, ErrNoSignature) {
		t.Fatalf("no headers: %v", err)
	}
	// The documented construction, recomputed independently.
	mac := hmac.New(sha256.New, []byte("k"))
	mac.Write([]byte("1.b"))
	if got, want := Sign("k", 1, []byte("b")), "v1="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestParse(t *testing.T) {
	good := `[{"name":"app","url":"http://127.0.0.1:9/hook","secret":"0123456789abcdef","events":["after_send","before_send"]},
	{"name":"audit","url":"https://example.com/x","secret":"0123456789abcdefXX","events":["*"]}]`
	eps, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if !eps[0].Wants(EventBeforeSend) || eps[1].Wants(EventBeforeSend) || !eps[1].Wants(EventUserDeleted) {
		t.Fatalf("wants: %+v", eps)
	}
	if s := fmt.Sprintf("%v %+v %#v %s", eps[0], eps[0], eps[0], eps[0].Secret); strings.Contains(s, "0123456789abcdef") {
		t.Fatalf("a secret printed: %s", s)
	}
	if b, _ := json.Marshal(eps); strings.Contains(string(b), "0123456789abcdef") {
		t.Fatalf("a secret in JSON: %s", b)
	}
	for _, bad := range []string{
		`{}`, `[{"name":"Bad Name","url":"http://a/","secret":"0123456789abcdef","events":["after_send"]}]`,
		`[{"name":"a","url":"ftp://a/","secret":"0123456789abcdef","events":["after_send"]}]`,
		`[{"name":"a","url":"http://u:p@a/","secret":"0123456789abcdef","events":["after_send"]}]`,
		`[{"name":"a","url":"http://a/","secret":"short-secret","events":["after_send"]}]`,
		`[{"name":"a","url":"http://a/","secret":"0123456789abcdef","events":["nope"]}]`,
		`[{"name":"a","url":"http://a/","secret":"0123456789abcdef","events":[]}]`,
		`[{"name":"a","url":"http://a/","secret":"0123456789abcdef","events":["after_send"],"extra":1}]`,
		`[{"name":"a","url":"http://a/","secret":"0123456789abcdef","events":["after_send"]},{"name":"a","url":"http://a/","secret":"0123456789abcdef","events":["after_send"]}]`,
		`[{"name":"a","url":"http://a/","secret":"0123456789abcdef","events":["before_send"]},{"name":"b","url":"http://a/","secret":"0123456789abcdef","events":["before_send"]}]`,
	} {
		_, err := Parse([]byte(bad))
		if err == nil {
			t.Errorf("accepted %s", bad)
		} else if strings.Contains(err.Error(), "0123456789abcdef") || strings.Contains(err.Error(), "short-secret") {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
}

// receiver is a real HTTP endpoint on 127.0.0.1 that verifies signatures
// and records event ids; mode switches its behaviour.
type receiver struct {
	t    *testing.T
	mu   sync.Mutex
	ids  map[string]int
	mode string // "", "503", "hang", "garbage", "redirect"
	got  chan string
	srv  *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, ids: map[string]int{}, got: make(chan string, 1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if err := Verify(secret, req.Header, body, time.Now(), 0); err != nil {
		r.t.Errorf("receiver: %v", err)
		w.WriteHeader(400)
		return
	}
	r.mu.Lock()
	mode := r.mode
	r.mu.Unlock()
	switch mode {
	case "503":
		w.WriteHeader(503)
		return
	case "hang":
		select {
		case <-req.Context().Done():
		case <-time.After(10 * time.Second):
		}
		return
	case "redirect":
		http.Redirect(w, req, "/elsewhere", http.StatusTemporaryRedirect)
		return
	}
	var p Payload
	if err := json.Unmarshal(body, &p); err != nil || p.ID != req.Header.Get(HeaderID) || p.Event != req.Header.Get(HeaderEvent) {
		r.t.Errorf("receiver: payload %s does not match its headers", body)
	}
	r.mu.Lock()
	r.ids[p.ID]++
	r.mu.Unlock()
	r.got <- p.ID
	w.WriteHeader(204)
}

func (r *receiver) setMode(m string) {
	r.mu.Lock()
	r.mode = m
	r.mu.Unlock()
}

func endpoint(url string, events ...string) Endpoint {
	return Endpoint{Name: "app", URL: url, Secret: secret, Events: events}
}

func fast() DispatcherOptions {
	return DispatcherOptions{BaseBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Poll: 20 * time.Millisecond, Lease: 2 * time.Second, MaxAttempts: 1000}
}

func runDispatcher(t *testing.T, h *Hooks, o DispatcherOptions) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx, o) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitIDs(t *testing.T, r *receiver, want map[string]bool, within time.Duration) {
	t.Helper()
	deadline := time.After(within)
	for len(want) > 0 {
		select {
		case id := <-r.got:
			delete(want, id)
		case <-deadline:
			t.Fatalf("%d events never arrived", len(want))
		}
	}
}

// A receiver that refuses connections, then answers 503, then hangs past
// the timeout, then redirects, and then works: every event arrives, each
// with its id, none is lost.
func TestReceiverDownThenUp(t *testing.T) {
	r := newReceiver(t)
	// The address is taken, then closed: connections are refused.
	addr := r.srv.Listener.Addr().String()
	r.srv.Listener.Close()
	ob := memoutbox.New(memoutbox.Options{})
	h, err := New(Options{Endpoints: []Endpoint{endpoint("http://"+addr+"/hook", EventAfterSend)}, Outbox: ob,
		Sender: NewSender(SenderOptions{Timeout: 300 * time.Millisecond})})
	if err != nil {
		t.Fatal(err)
	}
	runDispatcher(t, h, fast())
	want := map[string]bool{}
	for i := 0; i < 30; i++ {
		id := fmt.Sprintf("ev%02d", i)
		want[id] = true
		if err := h.Emit(context.Background(), EventAfterSend, id, map[string]int{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	waitFailed(t, h, "app", 10)
	// Back, but failing in each documented way in turn.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("relisten on %s: %v", addr, err)
	}
	r.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(r.serve)}}
	for _, mode := range []string{"503", "hang", "redirect"} {
		r.setMode(mode)
		if r.srv.URL == "" {
			r.srv.Start()
			t.Cleanup(r.srv.Close)
		}
		n := failedCount(h, "app")
		waitFailed(t, h, "app", n+5)
	}
	select {
	case id := <-r.got:
		t.Fatalf("%s was counted delivered while the receiver failed", id)
	default:
	}
	r.setMode("")
	waitIDs(t, r, want, 20*time.Second)
	if n, _ := ob.Pending(context.Background()); n != 0 {
		waitPending(t, ob)
	}
	if d, _ := ob.DeadLetters(context.Background(), 10); len(d) != 0 {
		t.Fatalf("dead letters: %v", d)
	}
}

func waitPending(t *testing.T, ob outbox.Outbox) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _ := ob.Pending(context.Background())
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d entries still pending", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func failedCount(h *Hooks, ep string) int {
	return int(testutilValue(h.m.failed.WithLabelValues(ep)))
}

func waitFailed(t *testing.T, h *Hooks, ep string, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for failedCount(h, ep) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d failed attempts, want %d", failedCount(h, ep), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// After MaxAttempts failures an entry is a dead letter; replayed, it is
// delivered.
func TestDeadLetterAndReplay(t *testing.T) {
	r := newReceiver(t)
	r.setMode("503")
	ob := memoutbox.New(memoutbox.Options{})
	h, err := New(Options{Endpoints: []Endpoint{endpoint(r.srv.URL, "*")}, Outbox: ob})
	if err != nil {
		t.Fatal(err)
	}
	o := fast()
	o.MaxAttempts = 3
	runDispatcher(t, h, o)
	if err := h.Emit(context.Background(), EventUserDeleted, "u1", map[string]string{"user_id": "u1"}); err != nil {
		t.Fatal(err)
	}
	var dead []outbox.Entry
	deadline := time.Now().Add(10 * time.Second)
	for len(dead) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("never dead-lettered")
		}
		time.Sleep(10 * time.Millisecond)
		dead, _ = ob.DeadLetters(context.Background(), 10)
	}
	if dead[0].Attempts != 3 || dead[0].LastError != "status 503" || dead[0].EventID != "u1" {
		t.Fatalf("dead letter %+v", dead[0])
	}
	r.setMode("")
	if err := ob.Replay(context.Background(), dead[0].ID); err != nil {
		t.Fatal(err)
	}
	h.Emit(context.Background(), EventUserDeleted, "wake", nil) // wakes the dispatcher
	waitIDs(t, r, map[string]bool{"u1": true, "wake": true}, 10*time.Second)
}

func TestBeforeSend(t *testing.T) {
	var mu sync.Mutex
	answer, status, delay := "", 200, time.Duration(0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if err := Verify(secret, req.Header, body, time.Now(), 0); err != nil {
			t.Errorf("before_send: %v", err)
		}
		mu.Lock()
		a, s, d := answer, status, delay
		mu.Unlock()
		if d > 0 {
			select {
			case <-req.Context().Done():
			case <-time.After(d):
			}
		}
		w.WriteHeader(s)
		io.WriteString(w, a)
	}))
	defer srv.Close()
	set := func(a string, s int, d time.Duration) { mu.Lock(); answer, status, delay = a, s, d; mu.Unlock() }
	for _, open := range []bool{false, true} {
		h, err := New(Options{Endpoints: []Endpoint{endpoint(srv.URL, EventBeforeSend)}, FailOpen: open, BeforeSendTimeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		set(`{"action":"reject","reason":"no swearing"}`, 200, 0)
		if v, err := h.BeforeSend(ctx, "m1", map[string]string{"body": "darn"}); err != nil || v.Action != ActionReject || v.Reason != "no swearing" {
			t.Fatalf("reject: %+v %v", v, err)
		}
		set(`{"action":"replace","body":"d**n"}`, 200, 0)
		if v, err := h.BeforeSend(ctx, "m1", nil); err != nil || v.Action != ActionReplace || *v.Body != "d**n" {
			t.Fatalf("replace: %+v %v", v, err)
		}
		set(``, 204, 0)
		if v, err := h.BeforeSend(ctx, "m1", nil); err != nil || v.Action != ActionAllow {
			t.Fatalf("empty: %+v %v", v, err)
		}
		for name, bad := range map[string]func(){
			"hang":     func() { set(`{"action":"allow"}`, 200, 5*time.Second) },
			"garbage":  func() { set(`<html>`, 200, 0) },
			"500":      func() { set(`{"action":"reject"}`, 500, 0) },
			"unknown":  func() { set(`{"action":"maybe"}`, 200, 0) },
			"redirect": func() { set(``, 302, 0) },
		} {
			bad()
			start := time.Now()
			v, err := h.BeforeSend(ctx, "m1", nil)
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("%s: took %v", name, took)
			}
			if open && (err != nil || v.Action != ActionAllow) {
				t.Fatalf("%s, fail open: %+v %v", name, v, err)
			}
			if !open && !errors.Is(err, ErrBeforeSend) {
				t.Fatalf("%s, fail closed: %+v %v", name, v, err)
			}
		}
	}
}
