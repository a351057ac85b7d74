package cpu

import (
	"errors"
	"math/rand/v2"
	"testing"
)

// Random instruction bytes must never make the interpreter fail
// internally (a Go panic becomes ExitError): whatever it does not
// implement is #UD, whatever faults is delivered.
func TestRandomBytesNoInternalError(t *testing.T) {
	n := 100000
	if testing.Short() {
		n = 10000
	}
	c, ram := withHandlers(t, nil)
	rng := rand.New(rand.NewPCG(7, seedOffset))
	var code [48]byte
	for i := 0; i < n; i++ {
		for j := range code {
			code[j] = byte(rng.Uint32())
		}
		// Bias towards the one- and two-byte opcode maps with prefixes.
		switch rng.IntN(4) {
		case 0:
			code[0] = 0x0f
		case 1:
			code[0] = 0x48 | byte(rng.IntN(8))
		}
		copy(ram.b[codeBase:], code[:])
		for r := range c.r {
			c.r[r] = dataBase + uint64(rng.IntN(0x1000))
		}
		c.r[rSP] = stackTop
		c.setRflags(2)
		c.rip = codeBase
		c.cr0, c.cr4, c.efer = 0x80000021, 0x20, 0x500
		c.seg[segCS] = seg{sel: 8, access: 0x209b}
		c.modeChanged()
		c.tlb.flush()
		ex := c.Run(20)
		if ex.Reason == ExitError && ex.Err != errMode && !errors.Is(ex.Err, ErrEventMMIO) {
			t.Fatalf("bytes % x: %v (insn % x)", code[:16], ex.Err, ex.Insn)
		}
	}
}

var seedOffset uint64 = 8
