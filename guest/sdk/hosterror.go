package sdk

import (
	"errors"
	"fmt"
)

// Error codes the host functions return (docs/ABI.md §5.1).
const (
	CodeInvalid     int32 = -1 // EINVAL: a malformed argument
	CodeNotFound    int32 = -2 // ENOTFOUND: no such handle, model or operator
	CodeQuota       int32 = -3 // EQUOTA: the call's host memory quota would be exceeded
	CodeUnsupported int32 = -4 // EUNSUPPORTED: valid, but not implemented by the engine
	CodeFailed      int32 = -5 // EFAILED: the operation ran and failed
	CodeDenied      int32 = -6 // EDENIED: the module may not do this
	CodeTimeout     int32 = -7 // ETIMEOUT: the request's deadline passed
)

// Sentinels for errors.Is: a *HostError wraps the one of its code.
var (
	ErrInvalid     = errors.New("EINVAL")
	ErrNotFound    = errors.New("ENOTFOUND")
	ErrQuota       = errors.New("EQUOTA")
	ErrUnsupported = errors.New("EUNSUPPORTED")
	ErrFailed      = errors.New("EFAILED")
	ErrDenied      = errors.New("EDENIED")
	ErrTimeout     = errors.New("ETIMEOUT")
)

var codeErrs = [...]error{ErrInvalid, ErrNotFound, ErrQuota, ErrUnsupported, ErrFailed, ErrDenied, ErrTimeout}

// codeErr is the sentinel of an error code, or nil for a code the ABI does
// not define.
func codeErr(code int32) error {
	if code >= -int32(len(codeErrs)) && code <= -1 {
		return codeErrs[-code-1]
	}
	return nil
}

// HostError is a host function's failure: its error code and the message
// last_error gave for it. errors.Is(err, ErrNotFound) and the like test the
// code.
type HostError struct {
	Code    int32  // a Code* constant (negative)
	Op      string // the host function, e.g. "image_decode"
	Message string // the host's message (last_error), which names Op too
}

func (e *HostError) Error() string {
	code := fmt.Sprintf("error %d", e.Code)
	if s := codeErr(e.Code); s != nil {
		code = s.Error()
	}
	if e.Message == "" {
		return fmt.Sprintf("%s: %s", e.Op, code)
	}
	return fmt.Sprintf("%s (%s)", e.Message, code)
}

// Unwrap returns the sentinel of e's code (nil for an unknown code).
func (e *HostError) Unwrap() error { return codeErr(e.Code) }

// hostErr builds the error of a failed host call, with the host's message.
func hostErr(op string, code int32) error {
	return &HostError{Code: code, Op: op, Message: LastError()}
}
