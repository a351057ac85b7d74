//go:build !race

package vmm_test

const raceOn = false
