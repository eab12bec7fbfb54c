package protocol

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error codes of the contract, shared by REST error bodies and WebSocket
// error frames.
const (
	CodeInvalidArgument = "invalid_argument"
	CodeUnauthenticated = "unauthenticated"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodePayloadTooLarge = "payload_too_large"
	CodeRateLimited     = "rate_limited"
	CodeUnavailable     = "unavailable"
	CodeInternal        = "internal"
)

// Error is an error a client may see: a contract code and a message that is
// safe to show. RetryAfter is set on rate_limited, and on unavailable when
// the server sheds load (clients wait at least that long).
type Error struct {
	Code       string
	Message    string
	RetryAfter time.Duration
	// Cause is the internal error behind it, for logs only; never shown.
	Cause error
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Unavailable wraps a failure of a backing service (database, Redis).
func Unavailable(cause error) *Error {
	return &Error{Code: CodeUnavailable, Message: "service temporarily unavailable, try again", Cause: cause}
}

// Internal wraps an unexpected failure.
func Internal(cause error) *Error {
	return &Error{Code: CodeInternal, Message: "internal error", Cause: cause}
}

// Errorf makes an *Error.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// RateLimited makes a rate_limited error with its retry delay.
func RateLimited(retry time.Duration) *Error {
	if retry < time.Second {
		retry = time.Second
	}
	return &Error{Code: CodeRateLimited, Message: "too many requests, try again later", RetryAfter: retry}
}

// AsError returns err as an *Error; anything that is not one becomes an
// internal error whose message hides the cause.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// HTTPStatus maps a code to its HTTP status.
func HTTPStatus(code string) int {
	switch code {
	case CodeInvalidArgument:
		return http.StatusBadRequest
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	case CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	case CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
