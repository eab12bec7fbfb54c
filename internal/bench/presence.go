package bench

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ScenarioPresence holds N connections (users friends in pairs, so that
// presence transitions have someone to tell) and measures what presence
// costs: a steady window (connections held; the gateways renew their
// presence records in batches) and a churn window (Rate connections a
// second closed and opened again, after ChurnAway). For each window it
// reports the Redis commands per connection per minute (INFO
// commandstats before and after, every command of every client: presence,
// the bus and pings' absence included) and the gateways' CPU per 10,000
// connections (/proc).
const ScenarioPresence = "presence"

// PresenceWindow is one measured window of the presence scenario.
type PresenceWindow struct {
	WindowS     float64 `json:"window_s"`
	Connections int     `json:"connections"`
	// RedisCalls counts every command INFO commandstats counted, those
	// run inside scripts included (each presence script runs 4-6);
	// ScriptCalls the script calls (EVALSHA, EVAL) alone, which are what
	// the clients sent for presence.
	RedisCalls            int64            `json:"redis_calls"`
	RedisCallsByCmd       map[string]int64 `json:"redis_calls_by_command"`
	RedisCallsPerConnMin  float64          `json:"redis_calls_per_conn_min"`
	ScriptCallsPerConnMin float64          `json:"redis_script_calls_per_conn_min"`
	GatewayCPU            float64          `json:"gateway_cpu_cores"`
	GatewayCPUPer10k      float64          `json:"gateway_cpu_cores_per_10k_conns"`
	RedisCPU              float64          `json:"redis_cpu_cores,omitempty"`
	Cycles                int64            `json:"churn_cycles,omitempty"` // connections closed and opened again
	CycleErrors           int64            `json:"churn_errors,omitempty"` // reconnects that failed
	CyclesPerS            float64          `json:"churn_cycles_per_s,omitempty"`
}

// PresenceResult is the presence scenario's result.
type PresenceResult struct {
	ChurnRate float64        `json:"churn_rate"`
	AwayS     float64        `json:"away_s"`
	Steady    PresenceWindow `json:"steady"`
	Churn     PresenceWindow `json:"churn"`
}

// redisCounter reads INFO commandstats of the run's Redis.
type redisCounter struct{ c *redis.Client }

func (rc *redisCounter) read(ctx context.Context) (map[string]int64, error) {
	if rc == nil || rc.c == nil {
		return nil, nil
	}
	s, err := rc.c.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("INFO commandstats: %w", err)
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, kv := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(kv, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				out[strings.TrimPrefix(name, "cmdstat_")] = n
			}
		}
	}
	return out, nil
}

// presence runs the presence scenario.
func (r *runner) presence(ctx context.Context) error {
	cfg := r.cfg
	kctx, kcancel := context.WithCancel(ctx)
	defer kcancel()
	go r.keepalive(kctx, 25*time.Second)

	url := cfg.RedisURL
	if r.env != nil {
		url = r.env.RedisURL
	}
	var rc *redisCounter
	if url != "" {
		opt, err := redis.ParseURL(url)
		if err != nil {
			return fmt.Errorf("-redis: %w", err)
		}
		rc = &redisCounter{c: redis.NewClient(opt)}
		defer rc.c.Close()
	} else {
		r.noteErr("presence: no Redis URL (-redis): Redis commands are not counted")
	}

	t0 := time.Now()
	failed := r.connect(ctx, 0, len(r.conns))
	r.res.ConnectSeconds = time.Since(t0).Seconds()
	r.res.ConnectFailures = failed
	r.logf("[connect] %d/%d conns in %.1fs", r.alive(), cfg.N, r.res.ConnectSeconds)
	// Let the first renewals and online announcements pass.
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(cfg.Settle):
	}
	pr := &PresenceResult{ChurnRate: cfg.Rate, AwayS: cfg.ChurnAway.Seconds()}
	var err error
	if pr.Steady, err = r.presenceWindow(ctx, rc, 0); err != nil {
		return err
	}
	r.logf("[steady] %d conns: %.2f Redis commands (%.2f script calls) per connection per minute, gateway CPU %.3f cores (%.3f per 10k conns)",
		pr.Steady.Connections, pr.Steady.RedisCallsPerConnMin, pr.Steady.ScriptCallsPerConnMin, pr.Steady.GatewayCPU, pr.Steady.GatewayCPUPer10k)
	if pr.Churn, err = r.presenceWindow(ctx, rc, cfg.Rate); err != nil {
		return err
	}
	r.logf("[churn] %d cycles (%.1f/s, %d failed): %.2f Redis commands (%.2f script calls) per connection per minute, gateway CPU %.3f cores (%.3f per 10k conns)",
		pr.Churn.Cycles, pr.Churn.CyclesPerS, pr.Churn.CycleErrors, pr.Churn.RedisCallsPerConnMin, pr.Churn.ScriptCallsPerConnMin,
		pr.Churn.GatewayCPU, pr.Churn.GatewayCPUPer10k)
	r.res.Presence = pr
	r.res.Connections = r.alive()
	r.res.WindowS = pr.Steady.WindowS + pr.Churn.WindowS
	r.res.GatewayCPU = pr.Churn.GatewayCPU
	return nil
}

// presenceWindow measures one window of cfg.Duration, churning rate
// connections a second (0: none).
func (r *runner) presenceWindow(ctx context.Context, rc *redisCounter, rate float64) (PresenceWindow, error) {
	cfg := r.cfg
	var w PresenceWindow
	calls0, err := rc.read(ctx)
	if err != nil {
		return w, err
	}
	g0, red0, t0 := r.sampleGateways(ctx), r.redis.Read(ctx), time.Now()
	var cycles, cycleErrs atomic.Int64
	if rate > 0 {
		wctx, cancel := context.WithTimeout(ctx, cfg.Duration)
		var wg sync.WaitGroup
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		rnd := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
		busy := make([]atomic.Bool, len(r.conns))
		sem := make(chan struct{}, max(1, cfg.DialConcurrency))
	loop:
		for {
			select {
			case <-wctx.Done():
				break loop
			case <-tick.C:
			}
			i := rnd.IntN(len(r.conns))
			if !busy[i].CompareAndSwap(false, true) {
				continue // that one is away already: skip this tick
			}
			select {
			case sem <- struct{}{}:
			default:
				busy[i].Store(false) // the dials are behind: skip this tick
				continue
			}
			wg.Add(1)
			go func(i int) {
				defer func() { <-sem; busy[i].Store(false); wg.Done() }()
				// The same Conn is dialled again: the keepalive reads
				// r.conns concurrently, and writes to a Conn only after
				// seeing alive, which dial sets last.
				c := r.conns[i]
				c.close()
				select {
				case <-c.done:
				case <-time.After(5 * time.Second):
					cycleErrs.Add(1)
					return
				}
				if cfg.ChurnAway > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(cfg.ChurnAway):
					}
				}
				c.closed.Store(false)
				if err := r.d.dial(ctx, c, cfg.Gateways[c.gw], c.user.Token); err != nil {
					cycleErrs.Add(1)
					r.noteErr("presence churn: reconnect: %v", err)
					return
				}
				cycles.Add(1)
			}(i)
		}
		tick.Stop()
		cancel()
		wg.Wait()
	} else {
		select {
		case <-ctx.Done():
			return w, ctx.Err()
		case <-time.After(cfg.Duration):
		}
	}
	el := time.Since(t0).Seconds()
	calls1, err := rc.read(ctx)
	if err != nil {
		return w, err
	}
	g1 := r.sampleGateways(ctx)
	w.WindowS, w.Connections = el, r.alive()
	w.Cycles, w.CycleErrors, w.CyclesPerS = cycles.Load(), cycleErrs.Load(), float64(cycles.Load())/el
	if g0.OK && g1.OK {
		w.GatewayCPU = (g1.CPU - g0.CPU) / el
		if w.Connections > 0 {
			w.GatewayCPUPer10k = w.GatewayCPU / float64(w.Connections) * 10000
		}
	}
	if r.redis.PID > 0 {
		w.RedisCPU = (r.redis.Read(ctx).CPU - red0.CPU) / el
	}
	if calls1 != nil {
		w.RedisCallsByCmd = map[string]int64{}
		for cmd, n := range calls1 {
			d := n - calls0[cmd]
			if cmd == "info" || d <= 0 {
				continue // our own INFO
			}
			w.RedisCalls += d
			w.RedisCallsByCmd[cmd] = d
		}
		if w.Connections > 0 {
			per := float64(w.Connections) * (el / 60)
			w.RedisCallsPerConnMin = float64(w.RedisCalls) / per
			w.ScriptCallsPerConnMin = float64(w.RedisCallsByCmd["evalsha"]+w.RedisCallsByCmd["eval"]) / per
		}
	}
	return w, nil
}
