package bench

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// Latency histograms: log-linear buckets over nanoseconds, 64 sub-buckets
// per power of two (relative error under 1.6%), enough for values up to
// about 18 minutes. Recording is a mutex-guarded increment in one of a few
// shards, so thousands of reader goroutines do not fight over one lock.

const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits) * histSub
)

// Hist counts values (nanoseconds) in log-linear buckets.
type Hist struct {
	counts [histBuckets]uint64
	n      uint64
	sum    float64
	max    int64
}

func histIndex(v int64) int {
	if v < histSub {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	e := bits.Len64(uint64(v)) - histSubBits - 1 // shift keeping the top 7 bits
	i := (e+1)*histSub + int(uint64(v)>>uint(e)) - histSub
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// histValue is the middle of bucket i.
func histValue(i int) int64 {
	if i < histSub {
		return int64(i)
	}
	e := i/histSub - 1
	lo := int64(histSub+i%histSub) << uint(e)
	return lo + (int64(1)<<uint(e))/2
}

// Record adds one value.
func (h *Hist) Record(ns int64) {
	if ns < 0 {
		ns = 0
	}
	h.counts[histIndex(ns)]++
	h.n++
	h.sum += float64(ns)
	if ns > h.max {
		h.max = ns
	}
}

// Merge adds o into h.
func (h *Hist) Merge(o *Hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Sub removes o (an earlier snapshot of h) from h; max is kept.
func (h *Hist) Sub(o *Hist) {
	for i, c := range o.counts {
		h.counts[i] -= c
	}
	h.n -= o.n
	h.sum -= o.sum
}

// Count is the number of values recorded.
func (h *Hist) Count() uint64 { return h.n }

// Quantile returns the q-quantile (0..1) in nanoseconds; 0 when empty.
func (h *Hist) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(histValue(i), h.max)
		}
	}
	return h.max
}

// Percentiles summarises a histogram in milliseconds.
type Percentiles struct {
	Count  uint64  `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
	MaxMS  float64 `json:"max_ms"`
}

func ms(ns int64) float64 { return math.Round(float64(ns)/1e3) / 1e3 }

// Percentiles returns the summary of h.
func (h *Hist) Percentiles() Percentiles {
	p := Percentiles{Count: h.n}
	if h.n == 0 {
		return p
	}
	p.MeanMS = math.Round(h.sum/float64(h.n)/1e3) / 1e3
	p.P50MS = ms(h.Quantile(0.50))
	p.P90MS = ms(h.Quantile(0.90))
	p.P99MS = ms(h.Quantile(0.99))
	p.P999MS = ms(h.Quantile(0.999))
	p.MaxMS = ms(h.max)
	return p
}

const recShards = 32

// Recorder is a sharded, concurrency-safe histogram.
type Recorder struct {
	shards [recShards]struct {
		mu sync.Mutex
		h  Hist
		_  [64]byte
	}
}

// Record adds a value in the shard chosen by hint (a connection index).
func (r *Recorder) Record(hint int, d time.Duration) {
	s := &r.shards[uint(hint)%recShards]
	s.mu.Lock()
	s.h.Record(int64(d))
	s.mu.Unlock()
}

// Snapshot merges every shard into a new Hist.
func (r *Recorder) Snapshot() *Hist {
	out := new(Hist)
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		out.Merge(&s.h)
		s.mu.Unlock()
	}
	return out
}
