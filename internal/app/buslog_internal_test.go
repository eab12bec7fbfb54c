package app

import (
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// The bus's errors reach the log, at most one line a second, the next
// line counting those dropped (an outage makes every connection report).
func TestBusErrorLogIsBounded(t *testing.T) {
	if busErrorLog(nil) != nil {
		t.Fatal("a nil logger must give no OnError")
	}
	core, logs := observer.New(zap.WarnLevel)
	onErr := busErrorLog(zap.New(core))
	start := time.Now()
	for i := 0; i < 500; i++ {
		onErr(errors.New("redisbus: receive: EOF"))
	}
	if time.Since(start) < time.Second && logs.Len() != 1 {
		t.Fatalf("%d lines for 500 errors within a second, want 1", logs.Len())
	}
	first := logs.All()[0]
	if first.ContextMap()["error"] != "redisbus: receive: EOF" || first.ContextMap()["dropped_since_last_line"] != int64(0) {
		t.Fatalf("first line: %+v", first.ContextMap())
	}
	time.Sleep(1100 * time.Millisecond) // the bound is time itself
	onErr(errors.New("redisbus: shard dropped"))
	all := logs.All()
	var dropped int64
	for _, l := range all {
		dropped += l.ContextMap()["dropped_since_last_line"].(int64)
	}
	if len(all) < 2 || all[len(all)-1].ContextMap()["error"] != "redisbus: shard dropped" || dropped != int64(501-len(all)) {
		t.Fatalf("after a second: %d lines counting %d dropped, want the new error logged and 501 errors in all", len(all), dropped)
	}
}
