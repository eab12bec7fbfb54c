package app

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// MountWeb serves the web client at /. (The client itself is embedded by
// internal/web; until it exists, / answers with a pointer to the API.)
func MountWeb(r chi.Router) {
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("im-websocket-go: REST API under /v1, WebSocket at /ws\n"))
	})
}
