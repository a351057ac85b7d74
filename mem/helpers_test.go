package mem

import (
	"bytes"
	"fmt"
	"testing"

	"softvmm/emu/abi"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

const rwx = abi.PROT_READ | abi.PROT_WRITE | abi.PROT_EXEC
const rw = abi.PROT_READ | abi.PROT_WRITE
const rx = abi.PROT_READ | abi.PROT_EXEC

// newSpace returns a Space freed when the test ends.
func newSpace(t testing.TB) *Space {
	t.Helper()
	s := NewSpace()
	t.Cleanup(func() {
		if err := s.Free(); err != nil {
			t.Errorf("Free: %v", err)
		}
	})
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// pat is the test's own fill pattern: byte off of segment segid. It never
// yields 0, so zeros read back can only come from holes.
func pat(segid int, off uint64) byte {
	return byte(off%251) + byte(segid)*61 + 1 | 1
}

// fill writes pat into segment segid through its backing object directly,
// bypassing every API under test.
func fill(t testing.TB, s *Space, segid int, lo, hi uint64) {
	t.Helper()
	mem := s.load().segs[segid].obj.mem
	for i := lo; i < hi; i++ {
		mem[i] = pat(segid, i)
	}
}

func patRange(segid int, lo, hi uint64) []byte {
	b := make([]byte, hi-lo)
	for i := range b {
		b[i] = pat(segid, lo+uint64(i))
	}
	return b
}

// backing returns segment segid's bytes [lo, hi) read from its backing
// object directly.
func backing(s *Space, segid int, lo, hi uint64) []byte {
	return bytes.Clone(s.load().segs[segid].obj.mem[lo:hi])
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func zeros(n int) []byte { return make([]byte, n) }

func errName(err error) string {
	if e, ok := err.(abi.Errno); ok {
		return fmt.Sprintf("%v (%d)", e, int(e))
	}
	return fmt.Sprint(err)
}

func checkErr(t testing.TB, what string, got, want error) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: error %s, want %s", what, errName(got), errName(want))
	}
}
