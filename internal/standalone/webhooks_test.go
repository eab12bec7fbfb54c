package standalone_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
	"github.com/im-websocket-go/im-websocket-go/pkg/webhook"
)

// The standalone server's webhook outbox is a file in its data folder: an
// after_send that its receiver refused before a restart is delivered after
// it, once the receiver is back.
func TestStandaloneWebhookOutboxSurvivesRestart(t *testing.T) {
	const secret = webhook.Secret("standalone-hook-secret")
	var mu sync.Mutex
	down, refused := true, make(chan struct{}, 100)
	got := map[string]int{} // message ids of after_send deliveries
	arrived := make(chan struct{}, 100)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err := webhook.Verify(secret, r.Header, body, time.Now(), 0); err != nil {
			t.Errorf("receiver: %v", err)
			http.Error(w, "bad signature", 401)
			return
		}
		mu.Lock()
		isDown := down
		mu.Unlock()
		if isDown {
			refused <- struct{}{}
			http.Error(w, "down", 503)
			return
		}
		var p struct {
			Event string
			Data  struct{ Message struct{ ID string } }
		}
		if err := json.Unmarshal(body, &p); err != nil || p.Event != webhook.EventAfterSend {
			t.Errorf("receiver: %v %s", err, body)
		}
		mu.Lock()
		got[p.Data.Message.ID]++
		mu.Unlock()
		arrived <- struct{}{}
		w.WriteHeader(204)
	}))
	defer rcv.Close()

	sink := testenv.NewSMTPSink(t)
	dir := t.TempDir()
	cfg := testConfig(t, dir, sink.Addr)
	cfg.Webhooks = []webhook.Endpoint{{Name: "app", URL: rcv.URL, Secret: secret, Events: []string{webhook.EventAfterSend}}}
	cfg.WebhookTimeout = time.Second
	s, err := start(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &apitest.Env{T: t, URL: s.URL, SMTP: sink}
	a, b := e.Register("wa"), e.Register("wb")
	room := e.Befriend(a, b)
	ws := apitest.DialWS(t, wsURL(s.URL), a.Token)
	ack, _, err := ws.SendReliably(room, "queued across a restart", "hook-1", 10, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m := ack.Message
	select {
	case <-refused: // the delivery was tried and refused: it waits in the outbox
	case <-time.After(wait):
		t.Fatal("the after_send was never tried")
	}
	stop(t, s) // its Close (run again by the cleanup) is idempotent

	mu.Lock()
	down = false
	mu.Unlock()
	if _, err := start(t, cfg); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second) // the retry's backoff, then the call
	for {
		mu.Lock()
		n := got[m.ID]
		mu.Unlock()
		if n > 0 {
			break
		}
		select {
		case <-arrived:
		case <-deadline:
			t.Fatalf("the after_send of %s never arrived after the restart", m.ID)
		}
	}
}
