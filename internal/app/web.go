package app

import (
	"github.com/go-chi/chi/v5"

	"github.com/im-websocket-go/im-websocket-go/internal/web"
)

// MountWeb serves the web client (internal/web) at / and /assets/.
func MountWeb(r chi.Router) { web.Mount(r) }
