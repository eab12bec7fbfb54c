package bench

import (
	"context"
	"errors"
	"math"
	"os"
	"runtime"
	"sync"
	"time"
)

// traffic runs fanout, direct and ramp: connect everyone, then send at
// the offered rate (open loop: each message has an intended send time,
// and latency is measured from it, so a stalled sender shows up as
// latency instead of hiding it), then wait for the answers and judge.
func (r *runner) traffic(ctx context.Context) error {
	cfg := r.cfg
	// The steps: one for fanout and direct, a rising series for ramp.
	type plan struct {
		rate float64
		dur  time.Duration
	}
	var plans []plan
	if cfg.Scenario == ScenarioRamp {
		rate := cfg.Rate
		for range cfg.Steps {
			plans = append(plans, plan{rate, cfg.StepDuration})
			rate *= cfg.RampFactor
		}
	} else {
		plans = []plan{{cfg.Rate, cfg.Duration}}
	}
	top := plans[len(plans)-1].rate

	// Publishers.
	switch cfg.work() {
	case ScenarioFanout:
		p := cfg.Publishers
		if p <= 0 {
			p = int(math.Ceil(top / 10))
		}
		r.pubs = r.conns[:min(max(p, 1), len(r.conns))]
	case ScenarioDirect:
		r.pubs = r.conns
	}
	r.res.Setup.Publishers = len(r.pubs)
	if cfg.Kind == KindImage {
		total := 0.0
		for _, p := range plans {
			total += p.rate * p.dur.Seconds()
		}
		if err := r.seedFiles(ctx, total); err != nil {
			return err
		}
	}
	if per := top / float64(len(r.pubs)); per > 20 {
		r.logf("warning: %.1f msgs/s per sending connection is above the gateway's default limit of 20/s (burst 40); expect rate_limited answers (raise -n or -publishers)", per)
	}

	// Connect (pinging from the start: the gateway closes connections
	// silent for 3 heartbeats).
	kctx, kcancel := context.WithCancel(ctx)
	defer kcancel()
	go r.keepalive(kctx, 25*time.Second)
	start := time.Now()
	failed := r.connect(ctx, 0, len(r.conns))
	r.res.ConnectSeconds = time.Since(start).Seconds()
	r.res.ConnectFailures = failed
	r.res.Connections = r.alive()
	r.logf("[connect] %d/%d conns in %.1fs (%d failed)", r.res.Connections, len(r.conns), r.res.ConnectSeconds, failed)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if r.res.Connections == 0 {
		return errors.New("no connection could be opened")
	}
	time.Sleep(200 * time.Millisecond) // let subscriptions settle

	// Schedule.
	t0 := time.Now().Add(100 * time.Millisecond)
	at := t0
	for _, p := range plans {
		s := &stepStats{rate: p.rate, start: at, end: at.Add(p.dur)}
		r.steps = append(r.steps, s)
		at = s.end
	}
	g0 := r.sampleGateways(ctx)
	tool0 := procCPU(os.Getpid())
	red0 := r.redis.Read(ctx)
	shards0 := sampleRedisNodes(ctx, r.redisNodes)
	var total time.Duration
	for _, p := range plans {
		total += p.dur
	}
	stopProf := r.startProfiles(total)

	// Pacers.
	G := min(len(r.pubs), max(2, 2*runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for g := range G {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.pace(ctx, g, G)
		}()
	}
	// Step boundaries and ramp verdicts.
	monDone := make(chan struct{})
	go func() {
		defer close(monDone)
		r.monitor(ctx)
	}()
	// Progress.
	pctx, pcancel := context.WithCancel(ctx)
	progDone := make(chan struct{})
	go func() {
		defer close(progDone)
		r.progress(pctx, t0, g0)
	}()
	if cfg.Scenario == ScenarioReceipts {
		// The storm goes on a little after the last send, so the last
		// messages get read too, then waits (bounded) for the sender's
		// read_counts to show every message read by all.
		last := r.steps[len(r.steps)-1].end
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.readStorm(ctx, r.conns[1:], cfg.ReadRate, t0, last.Add(2*time.Second))
		}()
		wg.Wait()
		r.awaitFullRead(ctx, r.conns[1:], cfg.Grace) // returns as soon as all is read
	}
	wg.Wait()
	tEnd := time.Now()
	<-monDone
	stopProf()
	window := tEnd.Sub(t0).Seconds()
	g1 := r.sampleGateways(ctx)
	sent, acked := r.sent.load(), r.acked.load()
	delivered := r.delivered.load()
	r.res.WindowS = window
	r.res.SentPerS = float64(sent) / window
	r.res.AckedPerS = float64(acked) / window
	r.res.DeliveredPS = float64(delivered) / window
	r.res.GatewayCPU = (g1.CPU - g0.CPU) / window
	r.res.ToolCPU = (procCPU(os.Getpid()) - tool0) / window
	if r.redis.PID > 0 {
		r.res.RedisCPU = (r.redis.Read(ctx).CPU - red0.CPU) / window
	}
	if len(r.redisNodes) > 0 {
		r.res.RedisShards = redisShardStats(r.redisNodes, shards0, sampleRedisNodes(ctx, r.redisNodes), window, acked)
		if r.redis.PID == 0 {
			for _, sh := range r.res.RedisShards {
				r.res.RedisCPU += sh.CPU
			}
		}
	}
	r.res.GatewayRSS, r.res.GatewayHeapInuse, r.res.GatewayStackInuse = g1.RSS, g1.HeapInuse, g1.Stack
	r.res.GatewayRSSBaseline = g0.RSS
	if n := r.res.Connections; n > 0 {
		r.res.RSSTotalPerConn = float64(g1.RSS) / float64(n)
	}

	// Answers, then stragglers.
	drainUntil := time.Now().Add(10*time.Second + cfg.Grace)
	for r.pendingCount() > 0 && time.Now().Before(drainUntil) && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	r.closeBooks()
	stragglers := time.Now().Add(cfg.Grace)
	for ctx.Err() == nil {
		miss, _ := r.missingCount()
		if miss == 0 || time.Now().After(stragglers) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	pcancel()
	<-progDone
	r.res.MissedLive, _ = r.missingCount()
	if r.res.MissedLive > 0 {
		r.logf("%d required deliveries still missing after %.1fs", r.res.MissedLive, cfg.Grace.Seconds())
		if cfg.Sync {
			r.logf("recovering them with sync")
			r.recoverBySync(ctx)
		}
	}
	r.res.Disconnects = 0
	for _, c := range r.conns {
		if c.done != nil && !c.alive.Load() && !c.closed.Load() {
			r.res.Disconnects++
			if c.err != nil {
				r.noteErr("connection dropped: %v", c.err)
			}
		}
	}

	// Per-step and overall results (latencies now complete).
	var dl, al Hist
	var maxGood float64
	good := true
	for _, s := range r.steps {
		if s.start.After(tEnd) || s.start.Equal(tEnd) {
			break
		}
		d := s.deliverLat.Snapshot()
		a := s.ackLat.Snapshot()
		dl.Merge(d)
		al.Merge(a)
		if !s.cut.IsZero() {
			break // cut short by a failing verdict: too little to judge
		}
		end := s.end
		if end.After(tEnd) {
			end = tEnd
		}
		dur := end.Sub(s.start).Seconds()
		sr := StepResult{Rate: s.rate, Sent: s.sent.load(), Acked: s.acked.load(), Errors: s.errs.load(),
			DeliveredPS: float64(s.d1-s.d0) / dur, AckedPS: float64(s.a1-s.a0) / dur,
			DeliverLatency: d.Percentiles(), AckLatency: a.Percentiles(), GatewayCPU: (s.cpu1 - s.cpu0) / dur}
		sr.Pass = r.passes(sr)
		if sr.Pass && good {
			maxGood = s.rate
		} else {
			good = false
		}
		r.res.Steps = append(r.res.Steps, sr)
	}
	if cfg.Scenario == ScenarioRamp {
		r.res.MaxGoodRate = maxGood
	} else {
		r.res.Steps = nil
	}
	r.res.DeliverLatency = dl.Percentiles()
	r.res.AckLatency = al.Percentiles()
	return nil
}

// passes judges a step against the ramp's bounds: p99 (delivery, and ack)
// within MaxP99, no error answers, and the arrivals keeping up with the
// offer.
func (r *runner) passes(s StepResult) bool {
	bound := float64(r.cfg.MaxP99) / 1e6
	if s.DeliverLatency.P99MS > bound || s.AckLatency.P99MS > bound || s.Errors > 0 {
		return false
	}
	if s.Sent > 0 && float64(s.Acked) < 0.99*float64(s.Sent) {
		return false
	}
	members := 2
	if len(r.rooms) == 1 {
		members = len(r.rooms[0].members)
	}
	want := s.Rate * float64(members-1)
	return s.DeliveredPS >= 0.9*want
}

// pace sends the messages k ≡ g (mod G) of every step at their intended
// times, from publisher k mod P.
func (r *runner) pace(ctx context.Context, g, G int) {
	for i, s := range r.steps {
		if r.stop.Load() || ctx.Err() != nil {
			return
		}
		dur := s.end.Sub(s.start)
		msgs := int(s.rate * dur.Seconds())
		if msgs <= 0 {
			continue
		}
		interval := float64(dur) / float64(msgs)
		for k := g; k < msgs; k += G {
			at := s.start.Add(time.Duration(float64(k) * interval))
			if d := time.Until(at); d > 0 {
				time.Sleep(d)
			}
			if r.stop.Load() || ctx.Err() != nil {
				return
			}
			c := r.pubs[k%len(r.pubs)]
			if !c.alive.Load() {
				continue
			}
			r.send(c, i, at.UnixNano())
		}
	}
}

// monitor snapshots counters at step boundaries and, for ramp, stops the
// run after the first step over the bounds.
func (r *runner) monitor(ctx context.Context) {
	snap := func() (int64, int64, float64) {
		return r.delivered.load(), r.acked.load(), r.sampleGateways(ctx).CPU
	}
	wait := func(t time.Time) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Until(t)):
			return true
		}
	}
	if !wait(r.steps[0].start) {
		return
	}
	d, a, c := snap()
	for i, s := range r.steps {
		s.d0, s.a0, s.cpu0 = d, a, c
		if !wait(s.end) {
			return
		}
		d, a, c = snap()
		s.d1, s.a1, s.cpu1 = d, a, c
		if r.cfg.Scenario != ScenarioRamp {
			continue
		}
		// Judge the step a moment later, once its last messages had time
		// to arrive (the next step is running meanwhile).
		judgeAt := s.end.Add(min(time.Second, 4*r.cfg.MaxP99))
		if i+1 < len(r.steps) && judgeAt.After(r.steps[i+1].end) {
			judgeAt = r.steps[i+1].end
		}
		_ = wait(judgeAt)
		dur := s.end.Sub(s.start).Seconds()
		sr := StepResult{Rate: s.rate, Sent: s.sent.load(), Acked: s.acked.load(), Errors: s.errs.load(),
			DeliveredPS: float64(s.d1-s.d0) / dur, DeliverLatency: s.deliverLat.Snapshot().Percentiles(),
			AckLatency: s.ackLat.Snapshot().Percentiles()}
		pass := r.passes(sr)
		r.logf("[step %d] %.0f msgs/s: %.0f deliveries/s, deliver p99 %.2f ms, ack p99 %.2f ms, errors %d: %s",
			i+1, s.rate, sr.DeliveredPS, sr.DeliverLatency.P99MS, sr.AckLatency.P99MS, sr.Errors,
			map[bool]string{true: "within bounds", false: "OVER THE BOUNDS: stopping"}[pass])
		if !pass {
			r.stop.Store(true)
			// The running step is cut short: close its books now.
			if i+1 < len(r.steps) {
				n := r.steps[i+1]
				n.d0, n.a0, n.cpu0 = d, a, c
				n.cut = time.Now()
				n.d1, n.a1, n.cpu1 = snap()
			}
			return
		}
	}
}

// progress prints a line a second.
func (r *runner) progress(ctx context.Context, t0 time.Time, g0 Sample) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var ps, pa, pd int64
	prevCPU := g0.CPU
	prevT := t0
	var prevLat *Hist
	prevStep := -1
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if now.Before(t0) {
				continue
			}
			s, a, d := r.sent.load(), r.acked.load(), r.delivered.load()
			g := r.sampleGateways(ctx)
			dt := now.Sub(prevT).Seconds()
			cur := 0
			for i, st := range r.steps {
				if !now.Before(st.start) {
					cur = i
				}
			}
			lat := r.steps[cur].deliverLat.Snapshot()
			if r.cfg.work() == ScenarioDirect {
				lat = r.steps[cur].ackLat.Snapshot()
			}
			window := *lat
			if prevLat != nil && prevStep == cur {
				window.Sub(prevLat)
			}
			prevLat, prevStep = lat, cur
			cpu := (g.CPU - prevCPU) / dt
			el := now.Sub(t0).Seconds()
			r.res.Timeline = append(r.res.Timeline, Second{T: el, Conns: r.alive(), Sent: s, Acked: a, Delivered: d, RSS: g.RSS, CPU: cpu})
			what := "deliver"
			if r.cfg.work() == ScenarioDirect {
				what = "ack"
			}
			r.logf("[%5.1fs] conns %d  sent %d (%.0f/s)  acked %d (%.0f/s)  delivered %d (%.0f/s)  err %d  %s p50 %.1fms p99 %.1fms  gw CPU %.0f%% RSS %s",
				el, r.alive(), s, float64(s-ps)/dt, a, float64(a-pa)/dt, d, float64(d-pd)/dt, r.sendErrs.load(), what,
				float64(window.Quantile(0.5))/1e6, float64(window.Quantile(0.99))/1e6, 100*cpu, mib(g.RSS))
			ps, pa, pd, prevCPU, prevT = s, a, d, g.CPU, now
		}
	}
}
