//go:build !linux

package hostprobe

import "errors"

// RoundTrip needs to pin threads to CPUs, which it does on Linux only.
func RoundTrip(a, b, trips int) (float64, error) {
	return 0, errors.New("hostprobe: pinning threads to CPUs is supported on Linux only")
}
