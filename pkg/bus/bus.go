// Package bus carries published messages and events between nodes. It is
// at-most-once: a message may be dropped (a reconnect, a slow subscriber),
// and the store stays the truth; receivers recover gaps with sync. The Redis
// Pub/Sub implementation is bus/redisbus, the in-process one bus/membus.
package bus

import (
	"context"
	"fmt"
	"strconv"
)

// Handler receives what a Bus delivers. Calls come from one goroutine per
// bus, in publish order per channel; they must not block for long.
type Handler interface {
	// HandleMessage gets the payload published on a subscribed channel.
	// payload must not be modified or kept after return unless copied.
	HandleMessage(channel string, payload []byte)
	// HandleResubscribed is called after the bus lost its connection and
	// subscribed again: messages published meanwhile may be lost.
	HandleResubscribed()
}

// ChannelsResubscriber is an optional extension of Handler. A bus whose
// channels travel over several connections (redisbus on a Redis Cluster:
// one per hash slot) calls HandleResubscribedChannels instead of
// HandleResubscribed when only one of those connections was lost and
// subscribed again: only the channels listed may have lost messages.
// channels is the handler's to keep. A Handler without this method gets
// HandleResubscribed, as if every channel were affected.
type ChannelsResubscriber interface {
	HandleResubscribedChannels(channels []string)
}

// ShardCounter is an optional interface of a Bus that counts its messages
// per shard (the Redis Cluster primary serving a channel's slot, or one
// shard off-cluster). ShardCounts calls fn once per shard ever seen (a
// bounded set) with the messages published and received through it.
type ShardCounter interface {
	ShardCounts(fn func(shard string, published, received uint64))
}

// Bus publishes to channels and delivers the channels this node subscribed
// to into its Handler.
type Bus interface {
	Publish(ctx context.Context, channel string, payload []byte) error
	Subscribe(ctx context.Context, channels ...string) error
	Unsubscribe(ctx context.Context, channels ...string) error
	Close() error
}

// RoomChannel is the channel of a room's messages. The braces are a Redis
// Cluster hash tag, so sharded pub/sub keeps a room on one shard.
func RoomChannel(roomID string) string { return "im:{r:" + roomID + "}" }

// UserChannel carries events for one user (friend added, group joined...):
// the per-user layout (see UserLayout).
func UserChannel(userID string) string { return "im:{u:" + userID + "}" }

// UserShards is how many user shard channels there are: in the shard
// layout a user's events travel on the channel of the shard their id
// hashes to, with the user's id in the envelope. It is part of the wire
// format between nodes: every node must use the same number.
const UserShards = 1024

// UserShard is the shard of a user's events: FNV-1a of the id, modulo
// UserShards.
func UserShard(userID string) int {
	h := uint32(2166136261)
	for i := 0; i < len(userID); i++ {
		h ^= uint32(userID[i])
		h *= 16777619
	}
	return int(h % UserShards)
}

// UserShardChannel is the channel of user shard n.
func UserShardChannel(n int) string { return "im:{s:" + strconv.Itoa(n) + "}" }

// UserLayout is how user events travel. Per-user channels cost each node
// a channel, a SUBSCRIBE and bookkeeping per online user (and Redis a
// channel per online user); shard channels cost a fixed UserShards
// channels per node, no SUBSCRIBE per connect, and deliver every user
// event of a shard to each node subscribed to it (all of them, on a node
// with a few thousand users), where those of users not connected there are
// dropped.
//
// The layouts change without a gap in a rolling upgrade through
// UserLayoutBoth: each step's nodes publish where the previous step's
// nodes subscribe.
type UserLayout string

const (
	// UserLayoutPerUser publishes on both kinds of channel and subscribes
	// per-user channels: what older nodes do, plus the shard copy.
	UserLayoutPerUser UserLayout = "per-user"
	// UserLayoutBoth publishes on both and subscribes shard channels.
	UserLayoutBoth UserLayout = "both"
	// UserLayoutShards publishes and subscribes shard channels only.
	UserLayoutShards UserLayout = "shards"
)

// ParseUserLayout checks a layout name; "" is UserLayoutShards.
func ParseUserLayout(s string) (UserLayout, error) {
	switch l := UserLayout(s); l {
	case "":
		return UserLayoutShards, nil
	case UserLayoutPerUser, UserLayoutBoth, UserLayoutShards:
		return l, nil
	}
	return "", fmt.Errorf("bus: user channel layout %q: want per-user, both or shards", s)
}

// PublishesPerUser reports whether nodes in layout l publish user events on
// per-user channels too (every layout publishes on shard channels).
func (l UserLayout) PublishesPerUser() bool { return l == UserLayoutPerUser || l == UserLayoutBoth }

// SubscribesShards reports whether gateways in layout l take user events
// from shard channels (else from per-user channels).
func (l UserLayout) SubscribesShards() bool { return l != UserLayoutPerUser }

// Parse tells the kind and id of a channel made by RoomChannel ('r'),
// UserChannel ('u') or UserShardChannel ('s', the id is the shard number).
// kind is 0 for anything else.
func Parse(channel string) (kind byte, id string) {
	const p = "im:{"
	n := len(channel)
	if n < len(p)+4 || channel[:len(p)] != p || channel[len(p)+1] != ':' || channel[n-1] != '}' {
		return 0, ""
	}
	k := channel[len(p)]
	if k != 'r' && k != 'u' && k != 's' {
		return 0, ""
	}
	return k, channel[len(p)+2 : n-1]
}
