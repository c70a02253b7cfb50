// Package harness builds the real wasmgate binary and runs it on a free
// loopback port, for end-to-end tests and load runs. Nothing here is mocked:
// the process under test is the one users run.
package harness
