// Package bench holds wasmgate's benchmarks and load runs. Each program
// prints its figures next to a peer measured in the same run, because the
// machines it runs on are shared and noisy; results are recorded in
// RESULTS.md. Nothing here is needed by the tests.
package bench
