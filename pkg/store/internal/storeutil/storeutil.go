// Package storeutil holds the small pieces of logic that several
// implementations of package store share, so that they agree to the
// letter: argument bounds, the encoding of a message's mentions in the SQL
// stores, and the counting of reactions by the stores that count in Go.
package storeutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

// CheckSeqs fails when seqs holds more than store.MaxSeqs seqs.
func CheckSeqs(seqs []int64) error {
	if len(seqs) > store.MaxSeqs {
		return fmt.Errorf("%d seqs, more than the %d one call takes", len(seqs), store.MaxSeqs)
	}
	return nil
}

// CheckAttachSeq fails when seq cannot be a message's seq to attach a file
// to.
func CheckAttachSeq(seq int64) error {
	if seq <= 0 {
		return fmt.Errorf("seq %d: a file is attached to a seq > 0", seq)
	}
	return nil
}

// EncodeMentions is the stored form of Message.Mentions in the SQL stores:
// a JSON array of strings, or nil (SQL NULL) when there are none.
func EncodeMentions(mentions []string) *string {
	if len(mentions) == 0 {
		return nil
	}
	b, err := json.Marshal(mentions)
	if err != nil { // cannot happen for a []string
		panic(err)
	}
	s := string(b)
	return &s
}

// DecodeMentions is the inverse of EncodeMentions: nil for NULL, "" or an
// empty array.
func DecodeMentions(stored *string) ([]string, error) {
	if stored == nil || *stored == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(*stored), &out); err != nil {
		return nil, fmt.Errorf("stored mentions %q: %w", *stored, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// NormaliseMentions sets an empty Mentions to nil, as every store returns
// it.
func NormaliseMentions(m *store.Message) {
	if len(m.Mentions) == 0 {
		m.Mentions = nil
	}
}

// ReactionRow is one reaction as CountReactions reads it.
type ReactionRow struct {
	Seq       int64
	UserID    string
	Emoji     string
	CreatedAt time.Time
}

// CountReactions groups the reactions of one room by message and emoji as
// Reactions.ReactionCounts returns them: per seq, one count an emoji,
// ordered by the emoji's first reaction, then by emoji, Mine set where
// userID reacted. The map is never nil.
func CountReactions(rows []ReactionRow, userID string) map[int64][]store.ReactionCount {
	type key struct {
		seq   int64
		emoji string
	}
	type group struct {
		count store.ReactionCount
		first time.Time
	}
	groups := map[key]*group{}
	for _, r := range rows {
		k := key{r.Seq, r.Emoji}
		g := groups[k]
		if g == nil {
			g = &group{count: store.ReactionCount{Emoji: r.Emoji}, first: r.CreatedAt}
			groups[k] = g
		}
		g.count.Count++
		g.count.Mine = g.count.Mine || r.UserID == userID
		if r.CreatedAt.Before(g.first) {
			g.first = r.CreatedAt
		}
	}
	bySeq := map[int64][]*group{}
	for k, g := range groups {
		bySeq[k.seq] = append(bySeq[k.seq], g)
	}
	out := make(map[int64][]store.ReactionCount, len(bySeq))
	for seq, gs := range bySeq {
		sort.Slice(gs, func(i, j int) bool {
			if !gs[i].first.Equal(gs[j].first) {
				return gs[i].first.Before(gs[j].first)
			}
			return gs[i].count.Emoji < gs[j].count.Emoji
		})
		counts := make([]store.ReactionCount, len(gs))
		for i, g := range gs {
			counts[i] = g.count
		}
		out[seq] = counts
	}
	return out
}

// UniqueSeqs returns seqs sorted, each once.
func UniqueSeqs(seqs []int64) []int64 {
	out := slices.Clone(seqs)
	slices.Sort(out)
	return slices.Compact(out)
}

// EditRefusal tells why EditMessage or RecallMessage changed no row, from
// the message read afterwards at (room, seq) (nil: none there):
// store.ErrRecalled for a recalled message proper, store.ErrNotFound
// otherwise (none, a hole, a change event).
func EditRefusal(m *store.Message) error {
	if m != nil && m.Recalled && !m.Hole && !m.IsEvent() {
		return store.ErrRecalled
	}
	return store.ErrNotFound
}

// Refusal tells why a conditional write changed nothing, from the record
// read back after it (v and err, the answer of the read; store.ErrNotFound
// is no record): why(v), wrapped with prefix ("sqlite: attach file"), or
// nil when why finds the write done already. An error of the read itself
// is returned as it is.
func Refusal[T any](prefix string, v *T, err error, why func(*T) error) error {
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := why(v); err != nil {
		return fmt.Errorf("%s: %w", prefix, err)
	}
	return nil
}

// AttachRefusal tells what AttachFile of f to seq answers when its
// conditional write (not deleted, not attached) changed nothing, from the
// file read afterwards (nil: absent): nil when it is attached to seq,
// store.ErrNotFound when it is absent or deleted, store.ErrConflict when it
// is attached to another seq.
func AttachRefusal(f *store.File, seq int64) error {
	switch {
	case f == nil || f.Deleted:
		return store.ErrNotFound
	case f.MessageSeq == seq:
		return nil
	}
	return fmt.Errorf("%w: the file is attached to seq %d", store.ErrConflict, f.MessageSeq)
}

// JSONArray encodes ids or seqs as a JSON array, the form in which the
// SQLite store passes a list as one parameter (json_each).
func JSONArray[T string | int64](v []T) string {
	if len(v) == 0 {
		return "[]"
	}
	b, err := json.Marshal(v)
	if err != nil { // cannot happen for strings and integers
		panic(err)
	}
	return string(b)
}

// ClampLimit is the page size of a limit given to a list query: def for a
// limit <= 0, max for one above max.
func ClampLimit(limit, def, max int) int {
	switch {
	case limit <= 0:
		return def
	case limit > max:
		return max
	}
	return limit
}

// CheckSeqFroms is CheckSeqs for the messages of Rooms.ReadCounts.
func CheckSeqFroms(msgs []store.SeqFrom) error {
	if len(msgs) > store.MaxSeqs {
		return fmt.Errorf("%d messages, more than %d", len(msgs), store.MaxSeqs)
	}
	return nil
}

// MinSeq is the lowest seq of msgs (0 when none): the lower bound of the
// range of read marks Rooms.ReadCounts reads.
func MinSeq(msgs []store.SeqFrom) int64 {
	var lo int64
	for i, m := range msgs {
		if i == 0 || m.Seq < lo {
			lo = m.Seq
		}
	}
	return lo
}

// ReadMark is one member's read mark, as a store reads it for ReadCounts.
type ReadMark struct {
	UserID  string
	ReadSeq int64
}

// CountReads answers Rooms.ReadCounts from the read marks at or past
// MinSeq(msgs) of the room's members: for each message, the marks at or
// past its seq that are not its sender's. Every seq is in the map.
func CountReads(msgs []store.SeqFrom, marks []ReadMark) map[int64]int64 {
	seqs := make([]int64, len(marks))
	byUser := make(map[string]int64, len(marks))
	for i, r := range marks {
		seqs[i] = r.ReadSeq
		byUser[r.UserID] = r.ReadSeq
	}
	slices.Sort(seqs)
	out := make(map[int64]int64, len(msgs))
	for _, m := range msgs {
		i, _ := slices.BinarySearch(seqs, m.Seq) // the first mark >= m.Seq
		n := int64(len(seqs) - i)
		if s, ok := byUser[m.From]; ok && s >= m.Seq {
			n--
		}
		out[m.Seq] = n
	}
	return out
}

// SortBlocks orders blocks as Blocks.BlocksOf returns them: oldest first,
// then by blocker, then by blocked.
func SortBlocks(bs []store.Block) {
	slices.SortFunc(bs, func(a, b store.Block) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		if a.Blocker != b.Blocker {
			return strings.Compare(a.Blocker, b.Blocker)
		}
		return strings.Compare(a.Blocked, b.Blocked)
	})
}
