package faulttest

import (
	"context"
	"encoding/json"
)

type contextLike = context.Context

func bg() context.Context { return context.Background() }

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
