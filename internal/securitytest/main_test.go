package securitytest

import (
	"testing"

	"github.com/im-websocket-go/im-websocket-go/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
