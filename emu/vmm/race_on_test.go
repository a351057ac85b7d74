//go:build race

package vmm_test

// raceOn: under the race detector the interpreter runs ~10x slower, so
// the guest-level suites run a representative subset.
const raceOn = true
