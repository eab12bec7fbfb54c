package service

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
	"github.com/im-websocket-go/im-websocket-go/pkg/stats"
)

// The admin API's stats: every process counts the messages it stores in
// memory (commit) and adds them to the minute's counter in stats.Stats
// at each flush; each gateway reports its connection counts
// (internal/gateway/stats.go), and the API reads both.

// FlushStats adds the messages stored since the last flush to the current
// minute of the stats. A failed flush keeps them for the next one.
func (s *Service) FlushStats(ctx context.Context) error {
	if s.stats == nil {
		return nil
	}
	n := s.msgsStored.Swap(0)
	if n == 0 {
		return nil
	}
	if err := s.stats.CountMessages(ctx, s.now(), n); err != nil {
		s.msgsStored.Add(n)
		return err
	}
	return nil
}

// RunStatsFlush calls FlushStats every interval until ctx ends (the API
// process; a gateway flushes from its own stats loop).
func (s *Service) RunStatsFlush(ctx context.Context, interval time.Duration) {
	if s.stats == nil || interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, interval)
			if err := s.FlushStats(fctx); err != nil {
				s.log.Warn("stats flush", zap.Error(err))
			}
			cancel()
		}
	}
}

// StatsReport is the answer of GET /v1/admin/stats.
type StatsReport struct {
	Nodes       []stats.NodeCounts `json:"nodes"`
	Users       int                `json:"users"`       // the sum over the nodes
	Connections int                `json:"connections"` // the sum over the nodes
	// MessagesPerMinute are the messages stored in each of the last
	// minutes, the current (partial) one last.
	MessagesPerMinute []stats.Minute `json:"messages_per_minute"`
}

// AdminStats reads the nodes' reports and the messages of the last
// minutes (1..stats.MaxMinutes).
func (s *Service) AdminStats(ctx context.Context, minutes int) (*StatsReport, error) {
	if minutes < 1 || minutes > stats.MaxMinutes {
		return nil, invalid("minutes must be 1-%d", stats.MaxMinutes)
	}
	if s.stats == nil {
		return nil, protocol.Unavailable(errors.New("stats are off"))
	}
	ns, err := s.stats.Nodes(ctx)
	if err != nil {
		return nil, protocol.Unavailable(err)
	}
	ms, err := s.stats.Messages(ctx, s.now(), minutes)
	if err != nil {
		return nil, protocol.Unavailable(err)
	}
	r := &StatsReport{Nodes: ns, MessagesPerMinute: ms}
	for _, n := range ns {
		r.Users += n.Users
		r.Connections += n.Connections
	}
	return r, nil
}
