//go:build !race

package ops

const raceOn = false
