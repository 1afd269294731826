//go:build !race

package chatwire

const raceEnabled = false
