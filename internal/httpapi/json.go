package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/im-websocket-go/im-websocket-go/pkg/protocol"
)

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// writeError answers with the contract's error body. Internal and
// unavailable errors are logged with their cause; the client sees only the
// code and a safe message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := protocol.AsError(err)
	status := protocol.HTTPStatus(e.Code)
	if status >= 500 {
		s.log.Error("request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.String("code", e.Code), zap.Error(e.Cause))
	}
	writeErrorBody(w, e)
}

// writeErrorBody answers e: its status, Retry-After when it has one, and
// the contract's error body.
func writeErrorBody(w http.ResponseWriter, e *protocol.Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+999_999_999)/1e9)))
	}
	var b errorBody
	b.Error.Code, b.Error.Message = e.Code, e.Message
	writeJSON(w, protocol.HTTPStatus(e.Code), b)
}

// decode reads one JSON object from the body into v: at most maxBody bytes,
// unknown fields refused, nothing after the object.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("body must hold a single JSON object")
		}
	}
	if err == nil {
		return true
	}
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &mbe):
		s.writeError(w, r, protocol.Errorf(protocol.CodePayloadTooLarge, "request body is larger than %d bytes", s.opts.MaxBody))
	case errors.Is(err, io.EOF):
		s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "request body is empty"))
	case errors.As(err, &ute):
		s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "field %q has the wrong type", ute.Field))
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "request body is not valid JSON"))
	case strings.HasPrefix(err.Error(), "json: unknown field"), strings.HasPrefix(err.Error(), "body must"):
		msg := strings.TrimPrefix(err.Error(), "json: ")
		if len(msg) > 200 {
			msg = msg[:200]
		}
		s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "%s", msg))
	default:
		// A read error (a client cut off, a timeout): its text would tell
		// addresses; say only what the client needs.
		if ce := s.log.Check(zap.DebugLevel, "request body unreadable"); ce != nil {
			ce.Write(zap.String("path", r.URL.Path), zap.Error(err))
		}
		s.writeError(w, r, protocol.Errorf(protocol.CodeInvalidArgument, "request body could not be read"))
	}
	return false
}
