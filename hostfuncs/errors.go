package hostfuncs

import (
	"errors"

	"github.com/wasmgate/wasmgate/hostfuncs/fault"
)

// invalid marks a malformed argument of a host call (EINVAL).
func invalid(err error) error { return fault.Wrap(fault.Invalid, err) }

func deniedf(format string, a ...any) error { return fault.Errorf(fault.Forbidden, format, a...) }

// opFailed is an operation that ran and failed (EFAILED) whatever the kind
// of its error: an operator or model rejecting its inputs is not a
// malformed host call.
type opFailed struct{ err error }

func (e *opFailed) Error() string { return e.err.Error() }
func (e *opFailed) Unwrap() error { return e.err }

// ranFailed classifies the error of an operator or model run: quota,
// deadline, denial and missing things keep their codes, anything else is
// EFAILED.
func ranFailed(err error) error {
	switch fault.KindOf(err) {
	case fault.Invalid, fault.ModuleFault, fault.Internal, fault.Unavailable, fault.Overloaded:
		return &opFailed{err}
	}
	return err
}

func isOpFailed(err error) bool {
	var f *opFailed
	return errors.As(err, &f)
}
