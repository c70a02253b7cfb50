// Package e2e tests the real wasmgate binary over real HTTP on loopback:
// built once, started on a free port, classified against the MNIST test set.
package e2e
