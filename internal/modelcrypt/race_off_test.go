//go:build !race

package modelcrypt

const raceEnabled = false
