package cpu

import (
	"math/rand/v2"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// TestDiffSequences runs random straight-line sequences of register-only
// instructions natively and in the interpreter, so lazy flags are tested
// across producers and consumers (ADC after SUB, INC keeping CF, SETcc and
// CMOVcc after shifts...), not one instruction at a time. Only AF, which
// the SDM leaves undefined after the logical operations in the pool, is
// masked in the final comparison.
func TestDiffSequences(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	n := 4000
	if testing.Short() {
		n = 400
	}
	rng := rand.New(rand.NewPCG(3, 4))
	c, ram := newGuest(t, nil)
	regs := []byte{0, 1, 2, 3, 6, 7, 8, 9, 10, 11}
	for i := 0; i < n; i++ {
		var code []byte
		var ends []int
		for k := 0; k < 12; k++ {
			code = append(code, randInsn(rng, regs)...)
			ends = append(ends, len(code))
		}
		// Every other case stops after a random prefix: the budget stop
		// must leave exact flags even inside a dead-flags window.
		m := len(ends)
		if i%2 == 1 {
			m = 1 + rng.IntN(len(ends))
		}
		in := inputs(rng, 1)[0]
		nat := in
		if err := hostexec.Exec(code[:ends[m-1]], &nat); err != nil {
			t.Skip(err)
		}
		copy(ram.b[codeBase:], append(append([]byte{}, code...), 0xf4))
		for _, r := range testRegs {
			c.r[r] = in.Regs[r]
		}
		c.setRflags(in.Flags | 2)
		c.rip = codeBase
		if i%2 == 1 {
			if ex := c.Run(uint64(m)); ex.Reason != ExitBudget || ex.RIP != codeBase+uint64(ends[m-1]) {
				t.Fatalf("% x: Run(%d) exit %v at %#x", code, m, ex.Reason, ex.RIP)
			}
		} else if ex := c.Run(100); ex.Reason != ExitHLT {
			t.Fatalf("% x: exit %v", code, ex.Reason)
		}
		bad := (c.rflags()^nat.Flags)&(arithFlags&^flagAF) != 0
		for _, r := range testRegs {
			if c.r[r] != nat.Regs[r] {
				bad = true
			}
		}
		if bad {
			t.Fatalf("sequence % x (first %d instructions)\ninput  %s\nhost   %s\ninterp %s", code, m, fmtIn(&in), fmtOut(&nat, nat.Flags), fmtOutC(c))
		}
	}
}

// randInsn encodes one register-only instruction with fully defined
// flags (except AF after logic ops).
func randInsn(rng *rand.Rand, regs []byte) []byte {
	pick := func() byte { return regs[rng.IntN(len(regs))] }
	sz := []uint8{1, 2, 4, 8}[rng.IntN(4)]
	d, s := pick(), pick()
	if sz == 1 {
		// no SPL/BPL/SIL/DIL: keep 8-bit operands in AL-BL, R8B-R11B,
		// or AH-BH (encoded 4-7 without REX)
		lo := []byte{0, 1, 2, 3, 8, 9, 10, 11}
		d, s = lo[rng.IntN(8)], lo[rng.IntN(8)]
		if d < 8 && s < 8 && rng.IntN(3) == 0 {
			d |= 4 // AH..BH
		}
	}
	emit := func(op []byte, reg, rm byte) []byte {
		var b []byte
		if sz == 2 {
			b = append(b, 0x66)
		}
		rex := byte(0)
		if sz == 8 {
			rex |= 8
		}
		if reg >= 8 {
			rex |= 4
		}
		if rm >= 8 {
			rex |= 1
		}
		if rex != 0 {
			b = append(b, 0x40|rex)
		}
		b = append(b, op...)
		return append(b, 0xc0|(reg&7)<<3|rm&7)
	}
	full := func(op8 byte) byte {
		if sz == 1 {
			return op8
		}
		return op8 + 1
	}
	switch rng.IntN(12) {
	case 0, 1, 2: // ALU r/m, reg
		return emit([]byte{full(byte(rng.IntN(8)) * 8)}, s, d)
	case 3: // ALU r/m, imm8
		o := byte(0x83)
		if sz == 1 {
			o = 0x80
		}
		b := emit([]byte{o}, byte(rng.IntN(8)), d)
		return append(b, byte(rng.Uint32()))
	case 4: // INC/DEC
		return emit([]byte{full(0xfe)}, byte(rng.IntN(2)), d)
	case 5: // NEG/NOT
		return emit([]byte{full(0xf6)}, 2+byte(rng.IntN(2)), d)
	case 6: // shifts and rotates by 1
		r := byte(rng.IntN(8))
		if r == 6 {
			r = 4
		}
		return emit([]byte{full(0xd0)}, r, d)
	case 7: // SETcc
		sz = 1
		if d >= 8 || rng.IntN(2) == 0 {
			d &= 11
		}
		return emit([]byte{0x0f, 0x90 + byte(rng.IntN(16))}, 0, d&^4)
	case 8: // CMOVcc
		if sz == 1 {
			sz = 4
			d, s = pick(), pick()
		}
		return emit([]byte{0x0f, 0x40 + byte(rng.IntN(16))}, d, s)
	case 9: // STC, CLC, CMC
		return []byte{[]byte{0xf9, 0xf8, 0xf5}[rng.IntN(3)]}
	case 10: // XADD / CMPXCHG
		if d&^4 == s&^4 && sz == 1 {
			return []byte{0xf5}
		}
		return emit([]byte{0x0f, full(0xc0 - 0x10*byte(rng.IntN(2)))}, s, d)
	default: // MOV
		return emit([]byte{full(0x88)}, s, d)
	}
}
