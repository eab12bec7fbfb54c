package bench

import (
	"hash/maphash"
	"math/bits"
	"sync"
	"sync/atomic"
)

// bitset is a growable set of small non-negative integers (seqs).
type bitset []uint64

// set adds i and reports whether it was already present.
func (b *bitset) set(i int64) (was bool) {
	w := int(i >> 6)
	if w >= len(*b) {
		n := max(w+1, 2*len(*b), 4)
		nb := make(bitset, n)
		copy(nb, *b)
		*b = nb
	}
	m := uint64(1) << uint(i&63)
	was = (*b)[w]&m != 0
	(*b)[w] |= m
	return was
}

func (b bitset) has(i int64) bool {
	w := int(i >> 6)
	return w < len(b) && b[w]&(uint64(1)<<uint(i&63)) != 0
}

// missing counts the members of want absent from both have and also.
func missing(want, have, also bitset) int64 {
	var n int
	for w, x := range want {
		if x == 0 {
			continue
		}
		if w < len(have) {
			x &^= have[w]
		}
		if w < len(also) {
			x &^= also[w]
		}
		n += bits.OnesCount64(x)
	}
	return int64(n)
}

// firstMissing returns the smallest member of want absent from have and
// also, or -1.
func firstMissing(want, have, also bitset) int64 {
	for w, x := range want {
		if w < len(have) {
			x &^= have[w]
		}
		if w < len(also) {
			x &^= also[w]
		}
		if x != 0 {
			return int64(w)<<6 + int64(bits.TrailingZeros64(x))
		}
	}
	return -1
}

// seqTable remembers, per seq of one room, a hash of the first copy of
// the message seen with that seq (from an ack or a delivery, whichever
// comes first). Every later copy is compared with it: two different
// messages under one seq, or a delivery that does not match its ack, is a
// mismatch. Lookups are lock-free; the chunk directory grows under a
// mutex, copy-on-write.
type seqTable struct {
	mu  sync.Mutex
	dir atomic.Pointer[[]*seqChunk]
}

const seqChunkBits = 8

type seqChunk [1 << seqChunkBits]atomic.Uint64

// check records h for seq if it is the first copy, else compares. It
// returns false on a mismatch.
func (t *seqTable) check(seq int64, h uint64) bool {
	if h == 0 {
		h = 1
	}
	c := t.chunk(int(seq >> seqChunkBits))
	slot := &c[seq&(1<<seqChunkBits-1)]
	if slot.CompareAndSwap(0, h) {
		return true
	}
	return slot.Load() == h
}

func (t *seqTable) chunk(i int) *seqChunk {
	if d := t.dir.Load(); d != nil && i < len(*d) && (*d)[i] != nil {
		return (*d)[i]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var old []*seqChunk
	if d := t.dir.Load(); d != nil {
		old = *d
	}
	if i < len(old) && old[i] != nil {
		return old[i]
	}
	nd := make([]*seqChunk, max(len(old), i+1))
	copy(nd, old)
	nd[i] = new(seqChunk)
	t.dir.Store(&nd)
	return nd[i]
}

// hashSeed is this process's seed: hashes are only compared in-process.
var hashSeed = maphash.MakeSeed()

// fnv64 hashes the parts of a message that identify it (maphash: the
// tool hashes every delivery, hundreds of thousands a second).
func fnv64(parts ...[]byte) uint64 {
	var h maphash.Hash
	h.SetSeed(hashSeed)
	for _, p := range parts {
		_, _ = h.Write(p)
		_ = h.WriteByte(0xff)
	}
	return h.Sum64()
}

// stripe is a counter spread over cache lines to keep many goroutines
// adding to it from contending.
type stripe struct {
	c [16]struct {
		n atomic.Int64
		_ [56]byte
	}
}

func (s *stripe) add(hint int, d int64) { s.c[uint(hint)%16].n.Add(d) }

func (s *stripe) load() int64 {
	var n int64
	for i := range s.c {
		n += s.c[i].n.Load()
	}
	return n
}
