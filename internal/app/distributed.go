package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/im-websocket-go/im-websocket-go/internal/config"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
	"github.com/im-websocket-go/im-websocket-go/pkg/bus/redisbus"
	"github.com/im-websocket-go/im-websocket-go/pkg/kv/rediskv"
)

// NopHandler ignores the bus (a node that only publishes, like the API).
type NopHandler struct{}

// HandleMessage does nothing.
func (NopHandler) HandleMessage(string, []byte) {}

// HandleResubscribed does nothing.
func (NopHandler) HandleResubscribed() {}

// Distributed connects to the store (MongoDB unless IM_STORE says
// otherwise) and Redis. h receives what the node subscribes to.
func Distributed(ctx context.Context, cfg config.Config, h bus.Handler) (Backends, error) {
	st, err := OpenStore(ctx, cfg, "mongo")
	if err != nil {
		return Backends{}, err
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		_ = st.Close(ctx)
		return Backends{}, fmt.Errorf("IM_REDIS_URL: %w", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	rc := redis.NewClient(opt)
	if err := rc.Ping(ctx).Err(); err != nil {
		_ = st.Close(ctx)
		_ = rc.Close()
		return Backends{}, fmt.Errorf("redis: %w", err)
	}
	// Pub/Sub gets its own client: its connection blocks on receive.
	psc := redis.NewClient(opt)
	b, err := redisbus.New(psc, h, redisbus.Options{})
	if err != nil {
		_ = st.Close(ctx)
		_ = rc.Close()
		_ = psc.Close()
		return Backends{}, fmt.Errorf("redis bus: %w", err)
	}
	kvs := rediskv.New(rc)
	return Backends{
		Store: st, KV: kvs, Bus: b,
		Ping: func(ctx context.Context) error {
			return errors.Join(st.Ping(ctx), kvs.Ping(ctx))
		},
		Close: func() {
			_ = b.Close()
			_ = psc.Close()
			_ = rc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = st.Close(ctx)
		},
	}, nil
}
