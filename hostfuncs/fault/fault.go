package fault

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies an error by who must act on it.
type Kind int

const (
	Internal        Kind = iota // a fault of the server; the caller cannot fix it
	Invalid                     // the request is malformed or does not fit the model
	NotFound                    // no such model, version or module
	Unavailable                 // exists but is not ready (unloaded, loading, failed)
	Overloaded                  // no capacity before the deadline; retry later
	Timeout                     // the request's deadline passed while it ran
	Canceled                    // the caller went away
	TooLarge                    // a body, tensor or output exceeds a limit
	Unsupported                 // a valid request for something not implemented
	ModuleFault                 // a Wasm module trapped, ran out of memory or broke the ABI
	Conflict                    // the operation conflicts with the current state
	Unauthenticated             // no credentials, or credentials that are not valid
	Forbidden                   // valid credentials without the right to do this
)

var kindNames = [...]string{
	Internal: "internal", Invalid: "invalid", NotFound: "not found", Unavailable: "unavailable",
	Overloaded: "overloaded", Timeout: "timeout", Canceled: "canceled", TooLarge: "too large",
	Unsupported: "unsupported", ModuleFault: "module fault", Conflict: "conflict",
	Unauthenticated: "unauthenticated", Forbidden: "forbidden",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error carries a Kind with the wrapped cause.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf formats an error of the given kind; %w wraps as with fmt.Errorf.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Err: fmt.Errorf(format, args...)}
}

// Wrap gives err a kind, keeping its message. A nil err stays nil.
func Wrap(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Err: err}
}

// KindOf returns the kind of the outermost classified error in err's chain.
// Context errors that nobody classified count as Timeout or Canceled.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	case errors.Is(err, context.Canceled):
		return Canceled
	}
	return Internal
}
