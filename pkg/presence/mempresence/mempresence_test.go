package mempresence

import (
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/presencetest"
	"github.com/im-websocket-go/im-websocket-go/pkg/presence"
)

func TestConformance(t *testing.T) {
	presencetest.Run(t, func(t *testing.T) presence.Presence { return New() })
}
