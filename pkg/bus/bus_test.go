package bus

import "testing"

// The shard of a user is part of the wire format between nodes: it must
// not change from one version to the next (FNV-1a 32 of the id, modulo
// UserShards; the values were computed independently).
func TestUserShardIsStable(t *testing.T) {
	for id, want := range map[string]int{"": 453, "u1": 1011, "01M8XKWH960VJR27WDAH8FH8Y1": 785} {
		if got := UserShard(id); got != want {
			t.Errorf("UserShard(%q) = %d, want %d", id, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		ch   string
		kind byte
		id   string
	}{
		{RoomChannel("r1"), 'r', "r1"},
		{UserChannel("u1"), 'u', "u1"},
		{UserShardChannel(17), 's', "17"},
		{"im:{x:1}", 0, ""},
		{"im:{s1}", 0, ""},
		{"other", 0, ""},
	} {
		if k, id := Parse(c.ch); k != c.kind || id != c.id {
			t.Errorf("Parse(%q) = %q %q, want %q %q", c.ch, k, id, c.kind, c.id)
		}
	}
}

func TestParseUserLayout(t *testing.T) {
	for in, want := range map[string]UserLayout{"": UserLayoutShards, "shards": UserLayoutShards, "both": UserLayoutBoth, "per-user": UserLayoutPerUser} {
		if got, err := ParseUserLayout(in); err != nil || got != want {
			t.Errorf("ParseUserLayout(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseUserLayout("sharded"); err == nil {
		t.Error("an unknown layout was accepted")
	}
	// A gateway gets a user's events if it subscribes the shards (every
	// layout publishes there) or its publisher keeps per-user copies. Each
	// step of the upgrade works with its neighbours, both ways; skipping
	// the middle step would not.
	gets := func(pub, sub UserLayout) bool { return sub.SubscribesShards() || pub.PublishesPerUser() }
	steps := []UserLayout{UserLayoutPerUser, UserLayoutBoth, UserLayoutShards}
	for i := 1; i < len(steps); i++ {
		if !gets(steps[i-1], steps[i]) || !gets(steps[i], steps[i-1]) {
			t.Errorf("%s and %s do not work together", steps[i-1], steps[i])
		}
	}
	if gets(UserLayoutShards, UserLayoutPerUser) {
		t.Error("shards -> per-user is expected to lose events (the middle step is needed)")
	}
}
