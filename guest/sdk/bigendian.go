//go:build ppc64 || s390x || mips || mips64 || armbe || arm64be || mips64p32 || ppc || sparc || sparc64

package sdk

// Typed views reinterpret the ABI's little-endian bytes in place; a
// big-endian build (only possible for host-side tests) would compute
// garbage, so it must not compile.
var _ = wasmgateNeedsALittleEndianCPU
