package bench

import (
	"time"
)

// sendWindow is a connection's send window, the pushback that
// docs/protocol.md §6 asks of clients under overload: a send answered
// `unavailable` or `rate_limited` closes the window to one send in flight
// and pauses the connection's sends (new ones and retries alike) until the
// retry time; then one goes out, and every ack doubles the window again up
// to maxWindow. Sends beyond the window wait in order in the client. An
// overloaded gateway then reads about one send per connection per retry
// time instead of the whole offered rate plus its retries, so every frame
// it reads is answered quickly and the refusals do not take the CPU the
// store needs. Guarded by the connection's mu.
type sendWindow struct {
	limit    int            // sends in flight allowed now, 1..maxWindow
	inflight int            // sends written and not answered yet
	until    time.Time      // no send before this (after a refusal)
	queue    []*pendingSend // waiting to go out, oldest first
	timer    bool           // a pump is scheduled for until
}

// maxWindow is the open window: more sends in flight on one connection
// than a client at the gateway's send rate (20/s, burst 40) ever has when
// the store keeps up.
const maxWindow = 32

// take moves the sends the window allows now from the queue to the wire.
func (w *sendWindow) take(now time.Time) []*pendingSend {
	if w.limit == 0 {
		w.limit = maxWindow
	}
	if now.Before(w.until) {
		return nil
	}
	n := min(len(w.queue), max(0, w.limit-w.inflight))
	if n == 0 {
		return nil
	}
	out := append([]*pendingSend(nil), w.queue[:n]...)
	clear(w.queue[:n])
	w.queue = w.queue[n:]
	w.inflight += n
	return out
}

// answered books the answer to a send in flight: ok opens the window,
// a refusal closes it to one and pauses sending for wait.
func (w *sendWindow) answered(ok bool, now time.Time, wait time.Duration) {
	w.inflight = max(0, w.inflight-1)
	if ok {
		w.limit = min(maxWindow, max(1, w.limit)*2)
		return
	}
	w.limit = 1
	if u := now.Add(wait); u.After(w.until) {
		w.until = u
	}
}

// windowed reports whether c's sends go through its send window: the raw
// client's, unless the run is open loop (the SDK has a window of its own).
func (r *runner) windowed(c *Conn) bool { return !r.cfg.OpenLoop && c.sdk == nil }

// submit queues ps on c (in order) and writes what the window allows.
func (r *runner) submit(c *Conn, ps *pendingSend) {
	c.mu.Lock()
	c.win.queue = append(c.win.queue, ps)
	c.mu.Unlock()
	r.pump(c)
}

// retryLater puts a refused send first in c's queue (its order among the
// connection's sends is kept) and pauses the window for wait.
func (r *runner) retryLater(c *Conn, ps *pendingSend, wait time.Duration) {
	c.mu.Lock()
	c.win.answered(false, time.Now(), wait)
	c.win.queue = append([]*pendingSend{ps}, c.win.queue...)
	c.mu.Unlock()
	r.pump(c)
}

// pump writes the sends c's window allows and, when sends wait for a
// pause to end, schedules itself for then.
func (r *runner) pump(c *Conn) {
	now := time.Now()
	c.mu.Lock()
	out := c.win.take(now)
	var after time.Duration
	if len(c.win.queue) > 0 && now.Before(c.win.until) && !c.win.timer {
		c.win.timer = true
		after = c.win.until.Sub(now)
	}
	c.mu.Unlock()
	if after > 0 {
		time.AfterFunc(after, func() {
			c.mu.Lock()
			c.win.timer = false
			c.mu.Unlock()
			if c.alive.Load() {
				r.pump(c)
			}
		})
	}
	for _, ps := range out {
		if r.booksClosed.Load() {
			return // the run is over: what is left stays unanswered
		}
		ps.wrote.Store(time.Now().UnixNano())
		if err := c.sendText(ps.frame); err != nil && !c.closed.Load() {
			r.noteErr("write: %v", err)
		}
	}
}

// recordAnswer books how long ps's last written attempt waited for an
// answer (ack or error): how soon a sender hears back from the server.
func (r *runner) recordAnswer(c *Conn, ps *pendingSend, now int64) {
	if w := ps.wrote.Load(); w > 0 {
		r.answerLat.Record(c.idx, time.Duration(now-w))
	}
}

// closeBooks ends the run's sending: nothing more is written, later acks
// are not counted, and what is still unanswered is counted now. Called
// after the drain, before waiting for stragglers, so every message counted
// as acked has the whole grace period to reach the other members.
func (r *runner) closeBooks() {
	r.booksClosed.Store(true)
	r.res.Unanswered = int64(r.pendingCount())
	r.res.HeldByClient = int64(r.heldCount())
}

// heldCount counts sends still waiting in the clients' windows (never
// written, or refused and waiting for their retry).
func (r *runner) heldCount() int {
	n := 0
	for _, c := range r.conns {
		c.mu.Lock()
		n += len(c.win.queue)
		c.mu.Unlock()
	}
	return n
}
