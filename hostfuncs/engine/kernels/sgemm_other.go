//go:build !amd64 || purego

package kernels

// archVariants is empty where there is no assembly: the portable Go code
// is the only variant.
func archVariants() []*variant { return nil }
