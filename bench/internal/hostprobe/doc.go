// Package hostprobe measures the state of the host a benchmark shares: how
// long a cache line takes to travel between two CPUs and back.
//
// On the 2-vCPU virtual machines of bench/RESULTS.md the round trip is
// 80-160 ns for minutes at a time and then 360-480 ns for minutes, and the
// two states switch together with the engine's two-thread speed: in the
// slow state the host has placed the two vCPUs on different core complexes
// (each then streams memory at about 34 GB/s where the two shared 21), and any
// memory the two threads both touch costs more. A benchmark that records
// the round trip beside its figures can say which state it ran in.
package hostprobe
