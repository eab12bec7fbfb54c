// Package bus carries published messages and events between nodes. It is
// at-most-once: a message may be dropped (a reconnect, a slow subscriber),
// and the store stays the truth; receivers recover gaps with sync. The Redis
// Pub/Sub implementation is bus/redisbus, the in-process one bus/membus.
package bus

import "context"

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

// UserChannel carries events for one user (friend added, group joined...).
func UserChannel(userID string) string { return "im:{u:" + userID + "}" }

// Parse tells the kind and id of a channel made by RoomChannel or
// UserChannel. kind is 'r', 'u' or 0 for anything else.
func Parse(channel string) (kind byte, id string) {
	const p = "im:{"
	n := len(channel)
	if n < len(p)+4 || channel[:len(p)] != p || channel[len(p)+1] != ':' || channel[n-1] != '}' {
		return 0, ""
	}
	k := channel[len(p)]
	if k != 'r' && k != 'u' {
		return 0, ""
	}
	return k, channel[len(p)+2 : n-1]
}
