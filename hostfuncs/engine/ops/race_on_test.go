//go:build race

package ops

// raceOn: the race detector makes sync.Pool drop items at random, so
// allocation counts mean nothing under it.
const raceOn = true
