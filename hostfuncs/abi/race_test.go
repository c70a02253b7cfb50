//go:build race

package abi_test

// raceEnabled lets tests that only exercise guest code skip the race
// detector's slowdown of the host-side encoding around them.
const raceEnabled = true
