package gateway

import (
	"fmt"
	"time"
)

// Duration is a time.Duration that JSON spells as Go does: "500ms", "30s".
type Duration time.Duration

// UnmarshalText parses a duration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (e.g. 500ms, 30s, 2m)", string(b))
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as Go spells it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// MarshalText writes the size with its largest exact unit.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }
