//go:build amd64 && !purego

package kernels

// Blocking of the assembly variants, for a core with 48 KiB of L1d and
// 1 MiB of L2 (AMD Zen 5, as lscpu reports on the machines this was tuned
// on; Zen 4 has 32 KiB and 1 MiB, recent Intel server cores 48 KiB and
// 2 MiB, so the sizes suit those too). Measured at 1024³, 256³, 64³ and
// 32×768×3072 with alternating runs:
//
//   - kc 192 packed: the 24 KiB B panel plus a streaming 10.5 KiB A panel
//     fit in L1; 256 and 384 were 2-4% slower at 1024³.
//   - kc 384 in place: the B rows come from L2 regardless, and halving the
//     passes over C gained 5-7% at 32×768×3072 and 2% at 256³.
//   - mc 336 = 24 AVX-512 panels: a 252 KiB A block in L2 at kc 192; 224
//     to 1008 were within noise.
//   - in place up to m = mc: at 32×768×3072 in place ran at ~200 GFLOPS
//     against ~110 packing B (each B value is used only 64 times), at 256³
//     250 against 234; at 1024³ packing wins (229 against 210), because
//     with several A blocks the in-place panels are fetched once per block.
var (
	blocking512 = blocking{kc: 192, kcInPlace: 384, mc: 14 * 24, nc: 4096, inPlaceM: 14 * 24}
	blocking256 = blocking{kc: 192, kcInPlace: 384, mc: 6 * 40, nc: 4096, inPlaceM: 6 * 40}
)
