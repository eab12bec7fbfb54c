package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/internal/httpapi"
	"github.com/im-websocket-go/im-websocket-go/internal/service"
	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

const hookSecret = webhook.Secret("test-webhook-secret-0123456789")

const hookWait = 20 * time.Second

// hookReceiver is the host app: a real HTTP server on 127.0.0.1 that
// verifies every call's signature and freshness, answers before_send
// (rejecting any body with "badword", replacing "darn"), and records the
// asynchronous events by id.
type hookReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	events map[string]webhook.Payload // by id
	raw    map[string]json.RawMessage // data by id
	seen   map[string]int             // deliveries by id
	got    chan string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{t: t, events: map[string]webhook.Payload{}, raw: map[string]json.RawMessage{},
		seen: map[string]int{}, got: make(chan string, 10000)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err := webhook.Verify(hookSecret, req.Header, body, time.Now(), 0); err != nil {
		r.t.Errorf("receiver: %v", err)
		http.Error(w, "bad signature", 401)
		return
	}
	var p struct {
		webhook.Payload
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.ID == "" || p.ID != req.Header.Get(webhook.HeaderID) {
		r.t.Errorf("receiver: bad payload %s", body)
		return
	}
	if p.Event == webhook.EventBeforeSend {
		var d struct{ Body string }
		_ = json.Unmarshal(p.Data, &d)
		switch {
		case strings.Contains(d.Body, "badword"):
			_, _ = io.WriteString(w, `{"action":"reject","reason":"watch your language"}`)
		case strings.Contains(d.Body, "darn"):
			_, _ = io.WriteString(w, `{"action":"replace","body":"`+strings.ReplaceAll(d.Body, "darn", "d**n")+`"}`)
		default:
			w.WriteHeader(204)
		}
		return
	}
	r.mu.Lock()
	r.events[p.ID], r.raw[p.ID] = p.Payload, p.Data
	r.seen[p.ID]++
	r.mu.Unlock()
	r.got <- p.ID
	w.WriteHeader(204)
}

// waitEvent waits for the event of id and returns its data.
func (r *hookReceiver) waitEvent(id string) json.RawMessage {
	r.t.Helper()
	deadline := time.After(hookWait)
	for {
		r.mu.Lock()
		d, ok := r.raw[id]
		r.mu.Unlock()
		if ok {
			return d
		}
		select {
		case <-r.got:
		case <-deadline:
			r.t.Fatalf("event %s never arrived", id)
		}
	}
}

func (r *hookReceiver) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.raw[id]
	return ok
}

func hookEndpoints(url string, events ...string) []webhook.Endpoint {
	return []webhook.Endpoint{{Name: "app", URL: url, Secret: hookSecret, Events: events}}
}

func fastDispatch() webhook.DispatcherOptions {
	return webhook.DispatcherOptions{BaseBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		Poll: 50 * time.Millisecond, Lease: 5 * time.Second, MaxAttempts: 1000}
}

// before_send rejects a word: the sender gets forbidden with the app's
// reason, nothing is stored and no after_send goes out; a replaced body is
// what is stored; a clean one goes through.
func TestWebhookBeforeSend(t *testing.T) {
	rcv := newHookReceiver(t)
	e := apitest.New(t, apitest.Options{Webhooks: hookEndpoints(rcv.srv.URL, "before_send", "after_send"), Dispatcher: fastDispatch()})
	a, b := e.Register("wba"), e.Register("wbb")
	room := e.Befriend(a, b)

	r := e.Do("POST", "/v1/rooms/"+room+"/messages", a.Token, map[string]string{"body": "you badword", "client_msg_id": "m1"})
	if r.Status != 403 || r.ErrCode() != "forbidden" || !strings.Contains(string(r.Body), "watch your language") {
		t.Fatalf("rejected send: %d %s", r.Status, r.Body)
	}
	r = e.Do("POST", "/v1/rooms/"+room+"/messages", a.Token, map[string]string{"body": "oh darn", "client_msg_id": "m2"})
	var m2 protocol.Message
	if r.Status != 201 {
		t.Fatalf("replaced send: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &m2)
	if m2.Body != "oh d**n" {
		t.Fatalf("stored body %q, want the replacement", m2.Body)
	}
	r = e.Do("POST", "/v1/rooms/"+room+"/messages", a.Token, map[string]string{"body": "hello", "client_msg_id": "m3"})
	var m3 protocol.Message
	r.JSON(t, &m3)
	rcv.waitEvent(m2.ID)
	rcv.waitEvent(m3.ID)
	hist := history(t, e, b.Token, room)
	if len(hist) != 2 || hist[0].ClientMsgID != "m2" || hist[1].ClientMsgID != "m3" {
		t.Fatalf("history %+v: the rejected message must not be stored", hist)
	}
	rcv.mu.Lock()
	n := len(rcv.raw)
	rcv.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d after_send events, want 2 (none for the rejected message)", n)
	}
}

// before_send that hangs: fail closed answers unavailable within the
// timeout and stores nothing; fail open lets the message through.
func TestWebhookBeforeSendHangs(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-req.Context().Done():
		case <-time.After(4 * time.Second): // well past the 300ms bound
		}
	}))
	defer hang.Close()
	for _, open := range []bool{false, true} {
		e := apitest.New(t, apitest.Options{Webhooks: hookEndpoints(hang.URL, "before_send"),
			WebhookConfig: func(c *config.Config) { c.WebhookBeforeSendTimeout, c.WebhookFailOpen = 300*time.Millisecond, open }})
		a, b := e.Register("wha"), e.Register("whb")
		room := e.Befriend(a, b)
		start := time.Now()
		r := e.Do("POST", "/v1/rooms/"+room+"/messages", a.Token, map[string]string{"body": "hi", "client_msg_id": "h1"})
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("fail open %v: the send took %v", open, took)
		}
		if open && r.Status != 201 {
			t.Fatalf("fail open: %d %s", r.Status, r.Body)
		}
		if !open {
			if r.Status != 503 || r.ErrCode() != "unavailable" {
				t.Fatalf("fail closed: %d %s", r.Status, r.Body)
			}
			if h := history(t, e, a.Token, room); len(h) != 0 {
				t.Fatalf("fail closed stored %+v", h)
			}
		}
	}
}

// after_send reaches the host app with the message and the recipients who
// were connected nowhere: B is online on a gateway, C is not. The send
// goes through a gateway (which writes the shared Redis outbox) and the
// API's dispatcher delivers it.
func TestWebhookAfterSendOfflineRecipients(t *testing.T) {
	rcv := newHookReceiver(t)
	cl := apitest.NewCluster(t, 1, apitest.Options{Webhooks: hookEndpoints(rcv.srv.URL, "after_send"), Dispatcher: fastDispatch()})
	a, b, c := cl.Register("waa"), cl.Register("wab"), cl.Register("wac")
	cl.Befriend(a, b)
	cl.Befriend(a, c)
	var g struct{ Group struct{ ID string } }
	cl.Do("POST", "/v1/groups", a.Token, map[string]any{"name": "hooks", "members": []string{b.Account, c.Account}}).JSON(t, &g)
	aws := apitest.DialWS(t, cl.Nodes[0].URL, a.Token)
	apitest.DialWS(t, cl.Nodes[0].URL, b.Token)
	// Wait until B reads online.
	for end := time.Now().Add(hookWait); ; time.Sleep(20 * time.Millisecond) {
		var out struct{ Presence []protocol.Presence }
		cl.Do("GET", "/v1/presence?users="+b.ID, a.Token, nil).JSON(t, &out)
		if len(out.Presence) == 1 && out.Presence[0].Online {
			break
		}
		if time.Now().After(end) {
			t.Fatal("B never read online")
		}
	}
	ack, _, err := aws.SendReliably(g.Group.ID, "to the group", "g1", 10, hookWait)
	if err != nil || ack.Message == nil {
		t.Fatalf("send: %+v %v", ack, err)
	}
	var ev service.AfterSend
	if err := json.Unmarshal(rcv.waitEvent(ack.Message.ID), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Message.ID != ack.Message.ID || ev.Message.Body != "to the group" || ev.Message.From != a.ID || ev.Message.Seq != ack.Message.Seq {
		t.Fatalf("after_send message %+v", ev.Message)
	}
	if len(ev.Offline) != 1 || ev.Offline[0].UserID != c.ID || ev.OfflineTruncated {
		t.Fatalf("offline %+v, want only C (%s): B is online, A sent it", ev.Offline, c.ID)
	}
	// A retry of the same frame is the same message: the receiver may
	// see its event again, always under the same id.
	ack2, _, err := aws.SendReliably(g.Group.ID, "to the group", "g1", 10, hookWait)
	if err != nil || ack2.Message.ID != ack.Message.ID {
		t.Fatalf("retry: %+v %v", ack2, err)
	}
}

// The receiver is down (connections refused) while 20 messages are sent,
// then answers 503 for a while, then comes back on the same address:
// every message's after_send arrives, at least once, under its message id,
// and the outbox empties.
func TestWebhookReceiverDownThenUp(t *testing.T) {
	rcv := newHookReceiver(t)
	addr := rcv.srv.Listener.Addr().String()
	rcv.srv.Close() // down
	e := apitest.New(t, apitest.Options{Webhooks: hookEndpoints("http://"+addr+"/hooks", "after_send"), Dispatcher: fastDispatch()})
	a, b := e.Register("wda"), e.Register("wdb")
	room := e.Befriend(a, b)
	var ids []string
	for i := 0; i < 20; i++ {
		r := e.Do("POST", "/v1/rooms/"+room+"/messages", a.Token, map[string]string{"body": fmt.Sprint("m", i), "client_msg_id": fmt.Sprint("c", i)})
		if r.Status != 201 {
			t.Fatalf("send %d: %d %s", i, r.Status, r.Body)
		}
		var m protocol.Message
		r.JSON(t, &m)
		ids = append(ids, m.ID)
	}
	// Some attempts fail while it is down.
	ob := e.Backends.Webhooks.Outbox()
	waitMetric(t, e, "im_webhook_failed_total", 20)
	if rcv.has(ids[0]) {
		t.Fatal("delivered while down")
	}
	// Up again on the same address.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(rcv.serve)}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	for _, id := range ids {
		var ev service.AfterSend
		if err := json.Unmarshal(rcv.waitEvent(id), &ev); err != nil || ev.Message.ID != id {
			t.Fatalf("event %s: %+v %v", id, ev, err)
		}
		if len(ev.Offline) != 1 || ev.Offline[0].UserID != b.ID {
			t.Fatalf("event %s offline %+v", id, ev.Offline)
		}
	}
	for end := time.Now().Add(hookWait); ; time.Sleep(20 * time.Millisecond) {
		n, err := ob.Pending(t.Context())
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("outbox still holds %d (%v)", n, err)
		}
	}
	if d, _ := ob.DeadLetters(t.Context(), 10); len(d) != 0 {
		t.Fatalf("dead letters %+v", d)
	}
	waitMetric(t, e, "im_webhook_delivered_total", 20)
	waitMetric(t, e, "im_webhook_queued_total", 20)
}

// waitMetric waits until the sum of a counter's series reaches min.
func waitMetric(t *testing.T, e *apitest.Env, name string, min float64) {
	t.Helper()
	for end := time.Now().Add(hookWait); ; time.Sleep(20 * time.Millisecond) {
		mfs, err := e.Metrics.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, m := range mf.GetMetric() {
					sum += m.GetCounter().GetValue()
				}
			}
		}
		if sum >= min {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s = %v, want at least %v", name, sum, min)
		}
	}
}

// The account and social events reach the host app through the outbox:
// registration, login, friends added and removed, a group created, its
// members changed, the group disbanded, an account deleted.
func TestWebhookAccountAndSocialEvents(t *testing.T) {
	rcv := newHookReceiver(t)
	e := apitest.New(t, apitest.Options{Webhooks: hookEndpoints(rcv.srv.URL, "*"), Dispatcher: fastDispatch()})
	a, b, c := e.Register("wea"), e.Register("web"), e.Register("wec")
	rcv.waitEvent("user.registered:" + a.ID)
	s := e.Login(a, "", "phone")
	rcv.waitEvent("user.logged_in:" + s.ID)
	e.Befriend(a, b)
	e.Befriend(a, c)
	var g struct{ Group struct{ ID string } }
	e.Do("POST", "/v1/groups", a.Token, map[string]any{"name": "ev", "members": []string{b.Account}}).JSON(t, &g)
	rcv.waitEvent("group.created:" + g.Group.ID)
	if r := e.Do("POST", "/v1/groups/"+g.Group.ID+"/members", a.Token, map[string]any{"accounts": []string{c.Account}}); r.Status != 200 {
		t.Fatalf("add member: %d %s", r.Status, r.Body)
	}
	if r := e.Do("DELETE", "/v1/groups/"+g.Group.ID, a.Token, nil); r.Status != 204 {
		t.Fatalf("disband: %d %s", r.Status, r.Body)
	}
	rcv.waitEvent("group.deleted:" + g.Group.ID)
	if r := e.Do("DELETE", "/v1/friends/"+b.Account, a.Token, nil); r.Status != 204 {
		t.Fatalf("unfriend: %d %s", r.Status, r.Body)
	}
	if r := e.Do("DELETE", "/v1/me", c.Token, map[string]string{"password": c.Password}); r.Status != 204 {
		t.Fatalf("delete account: %d %s", r.Status, r.Body)
	}
	rcv.waitEvent("user.deleted:" + c.ID)
	// The events whose ids are not derived from a known id, by name.
	for _, name := range []string{webhook.EventFriendAdded, webhook.EventFriendRemoved, webhook.EventGroupMembers} {
		for end := time.Now().Add(hookWait); ; time.Sleep(20 * time.Millisecond) {
			rcv.mu.Lock()
			found := false
			for _, p := range rcv.events {
				found = found || p.Event == name
			}
			rcv.mu.Unlock()
			if found {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("no %s event", name)
			}
		}
	}
}

// The dead-letter admin routes: a delivery that exhausted its attempts is
// listed with its last error, replayed, and then delivered; only an admin
// key opens them.
func TestWebhookDeadLetterAdmin(t *testing.T) {
	rcv := newHookReceiver(t)
	var mu sync.Mutex
	failing := true
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		f := failing
		mu.Unlock()
		if f {
			http.Error(w, "down", 503)
			return
		}
		rcv.serve(w, req)
	}))
	defer flaky.Close()
	d := fastDispatch()
	d.MaxAttempts = 2
	e := apitest.New(t, apitest.Options{Webhooks: hookEndpoints(flaky.URL, "user.registered"), Dispatcher: d})
	admin := httptest.NewServer(httpapi.New(e.Core.Service, e.Core.Verifier, nil, e.Log, httpapi.Options{AdminKeys: []string{apitest.AdminKey}}))
	defer admin.Close()
	call := func(method, path, key string) (int, []byte) {
		req, _ := http.NewRequest(method, admin.URL+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	u := e.Register("wdl")
	var list struct {
		DeadLetters []struct {
			ID        string `json:"id"`
			EventID   string `json:"event_id"`
			Attempts  int    `json:"attempts"`
			LastError string `json:"last_error"`
		} `json:"dead_letters"`
	}
	for end := time.Now().Add(hookWait); len(list.DeadLetters) == 0; time.Sleep(20 * time.Millisecond) {
		st, b := call("GET", "/v1/admin/webhooks/dead-letters?limit=10", apitest.AdminKey)
		if st != 200 {
			t.Fatalf("list: %d %s", st, b)
		}
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(end) {
			t.Fatal("never dead-lettered")
		}
	}
	dl := list.DeadLetters[0]
	if dl.EventID != "user.registered:"+u.ID || dl.Attempts != 2 || dl.LastError != "status 503" {
		t.Fatalf("dead letter %+v", dl)
	}
	id := url.PathEscape(dl.ID)
	// No key: 401; a wrong key or a user's token: 403 (adminauth.go).
	for key, want := range map[string]int{"": 401, "wrong-key-0123456789-0123456789-0123456789": 403, u.Token: 403} {
		if st, _ := call("POST", "/v1/admin/webhooks/dead-letters/"+id+"/replay", key); st != want {
			t.Fatalf("replay with key %q: %d, want %d", key, st, want)
		}
	}
	if st, b := call("GET", "/v1/admin/webhooks/dead-letters?limit=1000", apitest.AdminKey); st != 400 {
		t.Fatalf("limit 1000: %d %s", st, b)
	}
	mu.Lock()
	failing = false
	mu.Unlock()
	if st, b := call("POST", "/v1/admin/webhooks/dead-letters/"+id+"/replay", apitest.AdminKey); st != 204 {
		t.Fatalf("replay: %d %s", st, b)
	}
	if st, _ := call("POST", "/v1/admin/webhooks/dead-letters/"+id+"/replay", apitest.AdminKey); st != 404 {
		t.Fatalf("second replay: %d", st)
	}
	rcv.waitEvent("user.registered:" + u.ID)
}
