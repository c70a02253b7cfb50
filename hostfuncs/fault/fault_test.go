package fault

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/matryer/is"
)

func TestKindOf(t *testing.T) {
	base := Errorf(NotFound, "model %q", "x")
	cases := []struct {
		err  error
		want Kind
	}{
		{base, NotFound},
		{fmt.Errorf("loading: %w", base), NotFound},
		{Wrap(Invalid, fmt.Errorf("outer: %w", base)), Invalid}, // the outermost kind wins
		{errors.New("plain"), Internal},
		{fmt.Errorf("run: %w", context.DeadlineExceeded), Timeout},
		{context.Canceled, Canceled},
		{nil, Internal},
	}
	for _, c := range cases {
		is.New(t).Equal(KindOf(c.err), c.want)
	}
	is := is.New(t)
	is.Equal(base.Error(), `model "x"`)
	is.Equal(Wrap(Invalid, nil), nil)
	is.Equal(Timeout.String(), "timeout")
}
