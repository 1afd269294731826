//go:build race

package modelcrypt

// raceEnabled is true when the race detector, whose shadow memory inflates
// resident-set figures, is on.
const raceEnabled = true
