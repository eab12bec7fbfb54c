// Package presence records which users have a live connection on some
// gateway node. A node writes records for its own users only: Connect when
// a user's first local connection opens, Renew for all of them in one
// batched call per interval, Disconnect when the last one closed (after the
// caller's grace). Records expire by themselves (a ttl the node renews), so
// a node killed without a word leaves nothing behind that reads as online:
// its users lapse within the ttl, with no cleanup job. Someone must still
// announce that they went offline: the surviving nodes call ClaimLapsed,
// which hands each lapsed node's users to exactly one caller.
//
// Every transition is reported exactly once across all callers and nodes:
// the call that makes a user online (no live record of theirs on any node
// before it) reports it, and so does the one that makes them offline (no
// live record left). Redis provides this across nodes
// (presence/redispresence); presence/mempresence inside one process.
package presence

import (
	"context"
	"time"
)

// Presence is implemented by mempresence and redispresence. Node names are
// the nodes' incarnations: a restarted process must use a new one (see
// NodeName), or its predecessor's lapsed records would read as its own.
type Presence interface {
	// Connect records that uid has a live connection on node until ttl
	// from now. It reports whether the user thereby came online (they had
	// no live record on any node and were not already reported online).
	Connect(ctx context.Context, node, uid string, ttl time.Duration) (online bool, err error)
	// Renew extends node's records of uids, and node's own record, to ttl
	// from now, in one batched round trip (or a few for very many users).
	// It returns the users it found not reported online (their records had
	// lapsed and were claimed, e.g. the node was cut off for longer than
	// the ttl): they came online again, and the caller announces it.
	Renew(ctx context.Context, node string, uids []string, ttl time.Duration) (online []string, err error)
	// Disconnect removes node's records of uids and returns those that
	// thereby went offline (no live record left on any node). A user
	// without a record of node is not an error.
	Disconnect(ctx context.Context, node string, uids []string) (offline []string, err error)
	// Online reports, for each of uids, whether it has a live record.
	Online(ctx context.Context, uids []string) ([]bool, error)
	// ClaimLapsed finds nodes whose own record lapsed (they stopped
	// renewing: killed, or cut off), claims each for exactly one caller,
	// removes the claimed nodes' user records, and returns the users that
	// thereby went offline. At most limit users of lapsed nodes are
	// removed per call; later calls remove the rest.
	ClaimLapsed(ctx context.Context, limit int) (offline []string, err error)
}

// NodeName returns a node incarnation name: the node id and a random
// suffix, so that a restarted node never takes its predecessor's records
// for its own.
func NodeName(nodeID, suffix string) string { return nodeID + "#" + suffix }
