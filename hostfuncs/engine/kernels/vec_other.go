//go:build !amd64 || purego

package kernels

// archVecVariants is empty where there is no assembly.
func archVecVariants() []*vecVariant { return nil }
