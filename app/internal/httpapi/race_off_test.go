//go:build !race

package httpapi_test

// raceEnabled: the race detector slows every request several times over.
const raceEnabled = false
