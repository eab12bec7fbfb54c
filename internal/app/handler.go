package app

import (
	"sync/atomic"

	"github.com/im-websocket-go/im-websocket-go/pkg/bus"
)

// Deferred is a bus.Handler whose target is set after the bus is built
// (the gateway needs the service, which needs the bus). Until Set, what
// arrives is dropped.
type Deferred struct{ h atomic.Pointer[bus.Handler] }

// Set installs the real handler.
func (d *Deferred) Set(h bus.Handler) { d.h.Store(&h) }

// HandleMessage forwards to the handler.
func (d *Deferred) HandleMessage(ch string, p []byte) {
	if h := d.h.Load(); h != nil {
		(*h).HandleMessage(ch, p)
	}
}

// HandleResubscribedChannels forwards to the handler, as
// HandleResubscribed when it does not take channels.
func (d *Deferred) HandleResubscribedChannels(channels []string) {
	h := d.h.Load()
	if h == nil {
		return
	}
	if cr, ok := (*h).(bus.ChannelsResubscriber); ok {
		cr.HandleResubscribedChannels(channels)
		return
	}
	(*h).HandleResubscribed()
}

// HandleResubscribed forwards to the handler.
func (d *Deferred) HandleResubscribed() {
	if h := d.h.Load(); h != nil {
		(*h).HandleResubscribed()
	}
}
