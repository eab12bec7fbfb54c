package memstats

import (
	"testing"
	"time"

	"github.com/im-websocket-go/im-websocket-go/internal/statstest"
	"github.com/im-websocket-go/im-websocket-go/pkg/stats"
)

func TestConformance(t *testing.T) {
	statstest.Run(t, func(t *testing.T, now func() time.Time) stats.Stats { return New(now) })
}
