package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/admission"
)

// A message write that finds the store gate full is answered 503
// unavailable with a Retry-After at once, without reaching its handler;
// once the slot is given back the next one gets in.
func TestAdmitShedsWhenTheGateIsFull(t *testing.T) {
	s := &Server{gate: admission.New(admission.Options{Size: 1, Wait: 10 * time.Millisecond})}
	entered, hold := make(chan struct{}), make(chan struct{})
	calls := 0
	h := s.admit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		entered <- struct{}{}
		<-hold
		w.WriteHeader(http.StatusCreated)
	}))
	first := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/rooms/r/messages", nil))
		first <- rec.Code
	}()
	<-entered

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/rooms/r/messages", nil))
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("refusal body %q: %v", rec.Body, err)
	}
	if rec.Code != 503 || body.Error.Code != "unavailable" || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("with the gate full: %d %s Retry-After %q", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}

	close(hold)
	if code := <-first; code != 201 {
		t.Fatalf("the admitted write: %d", code)
	}
	go func() { <-entered }()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/rooms/r/messages", nil))
	if rec.Code != 201 || calls != 2 {
		t.Fatalf("after the release: %d, handler called %d times", rec.Code, calls)
	}
}
