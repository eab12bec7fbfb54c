package gateway

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/stats"
)

// defaultStatsInterval is how often a node reports to Options.Stats.
const defaultStatsInterval = 5 * time.Second

// statsLoop reports the node's connected users and connections to
// Options.Stats every StatsInterval (the report lives three intervals, so
// a stopped node drops out of the admin API's stats within 15 s by
// default), and flushes the count of messages the node stored. The first
// report goes out at once.
func (g *Gateway) statsLoop(ctx context.Context) {
	every := g.opts.StatsInterval
	if every <= 0 {
		every = defaultStatsInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		g.reportStats(ctx, every)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (g *Gateway) reportStats(ctx context.Context, every time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, min(every, g.opts.OpTimeout))
	defer cancel()
	c := stats.NodeCounts{Node: g.opts.NodeID, Users: len(g.hub.userIDs()), Connections: g.Len()}
	if err := g.opts.Stats.Report(ctx, c, 3*every); err != nil {
		g.log.Warn("stats report", zap.Error(err))
	}
	if err := g.svc.FlushStats(ctx); err != nil {
		g.log.Warn("stats flush", zap.Error(err))
	}
}
