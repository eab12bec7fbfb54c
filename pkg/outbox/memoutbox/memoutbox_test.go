package memoutbox

import (
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/outboxtest"
	"github.com/im-websocket-go/im-websocket-go/pkg/outbox"
)

func TestConformance(t *testing.T) {
	outboxtest.Run(t, func(t *testing.T, now func() time.Time) outbox.Outbox { return New(Options{Now: now}) })
}
