// Package wasmgen assembles small WebAssembly modules byte by byte, for tests
// that need guests no compiler would produce: guests that loop forever, trap,
// hand the host bad pointers or lie about their ABI. It covers the handful of
// sections and instructions such guests need, not the whole format.
package wasmgen
