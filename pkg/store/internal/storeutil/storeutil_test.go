package storeutil

import (
	"errors"
	"reflect"
	"testing"

	"github.com/im-websocket-go/im-websocket-go/pkg/store"
)

func TestMentionsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{}, nil},
		{[]string{"u1"}, []string{"u1"}},
		{[]string{"u1", store.MentionAll, `q"uote`}, []string{"u1", store.MentionAll, `q"uote`}},
	} {
		got, err := DecodeMentions(EncodeMentions(tc.in))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("round trip of %#v: %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
	for _, stored := range []string{"", "[]", "null"} {
		if got, err := DecodeMentions(&stored); err != nil || got != nil {
			t.Errorf("DecodeMentions(%q) = %#v, %v; want nil", stored, got, err)
		}
	}
	bad := "[1"
	if _, err := DecodeMentions(&bad); err == nil {
		t.Error("DecodeMentions of bad JSON: no error")
	}
}

func TestJSONArray(t *testing.T) {
	if got := JSONArray([]int64{3, -1, 1 << 62}); got != "[3,-1,4611686018427387904]" {
		t.Errorf("JSONArray of seqs: %s", got)
	}
	if got := JSONArray([]string(nil)); got != "[]" {
		t.Errorf("JSONArray of nil: %s", got)
	}
}

func TestRefusals(t *testing.T) {
	msg := &store.Message{Recalled: true}
	if err := EditRefusal(msg); !errors.Is(err, store.ErrRecalled) {
		t.Errorf("recalled: %v", err)
	}
	for _, m := range []*store.Message{nil, {}, {Hole: true, Recalled: true}, {Kind: store.KindEdit, Recalled: true}} {
		if err := EditRefusal(m); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("EditRefusal(%+v) = %v, want ErrNotFound", m, err)
		}
	}
	for _, tc := range []struct {
		f    *store.File
		want error
	}{
		{nil, store.ErrNotFound},
		{&store.File{Deleted: true, MessageSeq: 5}, store.ErrNotFound},
		{&store.File{MessageSeq: 5}, nil},
		{&store.File{MessageSeq: 6}, store.ErrConflict},
	} {
		if err := AttachRefusal(tc.f, 5); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
			t.Errorf("AttachRefusal(%+v, 5) = %v, want %v", tc.f, err, tc.want)
		}
	}
	readErr := errors.New("read failed")
	if err := Refusal("x", (*store.File)(nil), readErr, func(*store.File) error { return nil }); err != readErr {
		t.Errorf("Refusal with a read error: %v", err)
	}
	err := Refusal("x: op", (*store.File)(nil), store.ErrNotFound, func(f *store.File) error { return AttachRefusal(f, 1) })
	if !errors.Is(err, store.ErrNotFound) || err.Error() != "x: op: store: not found" {
		t.Errorf("Refusal of a missing record: %v", err)
	}
}

func TestClampLimit(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{-1, 50}, {0, 50}, {1, 1}, {1000, 1000}, {1001, 1000}} {
		if got := ClampLimit(tc.in, 50, 1000); got != tc.want {
			t.Errorf("ClampLimit(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
