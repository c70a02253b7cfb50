//go:build ppc64 || s390x || mips || mips64 || armbe || arm64be || mips64p32 || ppc || sparc || sparc64

package tensor

// Typed views reinterpret little-endian bytes in place; a big-endian build
// would silently compute garbage, so it must not compile.
var _ = wasmgateNeedsALittleEndianCPU
