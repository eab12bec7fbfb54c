package httpapi_test

import (
	"fmt"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/apitest"
	"github.com/im-websocket-go/im-websocket-go/internal/config"
)

// A failover can hand the seq counter back lower than the stored maximum
// (a promoted replica that missed the last INCRs). The counter is SET
// lower here, on each topology: the next sends hit stored seqs, the
// service raises the counter past the stored maximum, and no stored
// message is overwritten.
func TestSeqCounterBehindNeverOverwrites(t *testing.T) {
	for _, topo := range []string{config.RedisSingle, config.RedisCluster} {
		t.Run(topo, func(t *testing.T) {
			e := apitest.New(t, apitest.Options{Redis: topo})
			a, b := e.Register("sb"), e.Register("sb")
			room := e.Befriend(a, b)
			send := func(id string) msg { return postMessage(t, e, a.Token, room, id) }
			for i := 1; i <= 5; i++ {
				if m := send(fmt.Sprint("before", i)); m.Seq != int64(i) {
					t.Fatalf("seq %d, want %d", m.Seq, i)
				}
			}
			if err := e.Redis.Set(t.Context(), "seq:{"+room+"}", 2, 0).Err(); err != nil {
				t.Fatal(err)
			}
			for i := 6; i <= 7; i++ {
				if m := send(fmt.Sprint("after", i)); m.Seq != int64(i) {
					t.Fatalf("seq after the counter went back: %d, want %d", m.Seq, i)
				}
			}
			var h struct{ Messages []msg }
			r := e.Do("GET", "/v1/rooms/"+room+"/messages?after=0&limit=50", a.Token, nil)
			if r.Status != 200 {
				t.Fatalf("history: %d", r.Status)
			}
			r.JSON(t, &h)
			if len(h.Messages) != 7 {
				t.Fatalf("history has %d messages, want 7: %+v", len(h.Messages), h.Messages)
			}
			for i, m := range h.Messages {
				want := fmt.Sprint("before", i+1)
				if i >= 5 {
					want = fmt.Sprint("after", i+1)
				}
				if m.Seq != int64(i+1) || m.Body != want {
					t.Fatalf("history %d: seq %d body %q, want seq %d body %q", i, m.Seq, m.Body, i+1, want)
				}
			}
		})
	}
}

// postMessage sends id (as body and client_msg_id) to room through REST
// and returns the stored message.
func postMessage(t *testing.T, e *apitest.Env, token, room, id string) msg {
	t.Helper()
	r := e.Do("POST", "/v1/rooms/"+room+"/messages", token, map[string]string{"body": id, "client_msg_id": id})
	if r.Status != 201 {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	var m msg
	r.JSON(t, &m)
	return m
}
