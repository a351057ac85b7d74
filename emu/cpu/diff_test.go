package cpu

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"softvmm/emu/cpu/internal/hostexec"
)

// Differential tests: the same instruction bytes run on this host CPU
// (internal/hostexec) and in the interpreter from the same registers and
// flags; every register the instruction may touch and every flag the SDM
// defines for it must agree. Flags the SDM leaves undefined are masked
// per case (undef); TestDiffUndefinedFlags reports how often the
// interpreter still matches the host on them.

const arithFlags = flagCF | flagPF | flagAF | flagZF | flagSF | flagOF

// testRegs are the registers hostexec loads and stores (x86 numbers).
var testRegs = []int{rAX, rCX, rDX, rBX, rSI, rDI, r8, r9, r10, r11}

type diffCase struct {
	name string
	code []byte
	// undef returns the flags the SDM leaves undefined for this input.
	undef func(in *hostexec.State) uint64
	// skip rejects inputs that would fault natively (#DE).
	skip func(in *hostexec.State) bool
	// undefReg: registers whose value is undefined for this input.
	undefReg func(in *hostexec.State) []int
}

var edges = []uint64{
	0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
	0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0x7fffffffffffffff,
	0x8000000000000000, 0xffffffffffffffff, 0xfffffffffffffffe, 0x8000000000000001,
	0x1f, 0x20, 0x3f, 0x40, 0x41, 0x21, 0x9, 0x10, 0x11,
}

func inputs(rng *rand.Rand, n int) []hostexec.State {
	var out []hostexec.State
	for i := 0; i < n; i++ {
		var st hostexec.State
		for _, r := range testRegs {
			switch rng.IntN(4) {
			case 0, 1:
				st.Regs[r] = edges[rng.IntN(len(edges))]
			case 2:
				st.Regs[r] = rng.Uint64()
			default:
				st.Regs[r] = rng.Uint64() >> (rng.IntN(64))
			}
		}
		st.Flags = rng.Uint64() & arithFlags
		out = append(out, st)
	}
	return out
}

func runDiff(t *testing.T, cases []diffCase, n int) (undefMatch, undefTotal map[string][2]int) {
	return runDiffIn(t, cases, n, 64)
}

// runDiffIn runs the cases in 64-bit mode, or re-encoded for 32-bit or
// 16-bit protected mode (legacyCode): an instruction at a given operand
// size computes the same in every mode, so the host's 64-bit execution
// is the oracle there too; the low 32 bits of each register are compared.
func runDiffIn(t *testing.T, cases []diffCase, n, mode int) (undefMatch, undefTotal map[string][2]int) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	undefMatch = map[string][2]int{}
	var c *CPU
	var ram *testRAM
	at := uint64(codeBase)
	regMask := ^uint64(0)
	switch mode {
	case 64:
		c, ram = newGuest(t, nil)
	case 32:
		c, ram = newProt(t, nil)
		regMask = 0xffffffff
	default:
		c, ram = newProt(t, nil)
		c.seg[segCS] = seg{sel: selCode16, limit: 0xffff, access: 0x9b}
		c.modeChanged()
		at, regMask = 0x8000, 0xffffffff
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ran := 0
	defer func() {
		if mode != 64 {
			t.Logf("%d of %d cases run in %d-bit mode", ran, len(cases), mode)
		}
	}()
	for _, dc := range cases {
		code := dc.code
		if mode != 64 {
			var ok bool
			if code, ok = legacyCode(dc.code, mode); !ok {
				continue
			}
		}
		ran++
		copy(ram.b[at:], append(append([]byte{}, code...), 0xf4))
		fails := 0
		for _, in := range inputs(rng, n) {
			if dc.skip != nil && dc.skip(&in) {
				continue
			}
			nat := in
			if err := hostexec.Exec(dc.code, &nat); err != nil {
				t.Skip(err)
			}
			for _, r := range testRegs {
				c.r[r] = in.Regs[r]
			}
			c.setRflags(in.Flags | 2)
			c.rip = at
			ex := c.Run(10)
			if ex.Reason != ExitHLT {
				t.Errorf("%s: exit %v (err %v) for %s", dc.name, ex.Reason, ex.Err, fmtIn(&in))
				fails++
				continue
			}
			var undef uint64
			if dc.undef != nil {
				undef = dc.undef(&in)
			}
			got := c.rflags()
			mask := uint64(arithFlags &^ undef)
			bad := (got^nat.Flags)&mask != 0
			skipR := map[int]bool{}
			if dc.undefReg != nil {
				for _, r := range dc.undefReg(&in) {
					skipR[r] = true
				}
			}
			for _, r := range testRegs {
				if !skipR[r] && (c.r[r]^nat.Regs[r])&regMask != 0 {
					bad = true
				}
			}
			m := undefMatch[dc.name]
			if undef != 0 {
				m[1]++
				if (got^nat.Flags)&undef == 0 {
					m[0]++
				}
			}
			undefMatch[dc.name] = m
			if bad && fails < 3 {
				fails++
				t.Errorf("%s (% x): input %s\n  host  %s\n  interp %s", dc.name, dc.code, fmtIn(&in), fmtOut(&nat, nat.Flags), fmtOutC(c))
			}
		}
		if fails == 0 {
			markVerifiedCode(mode, code) // the ISA coverage report
		}
	}
	return undefMatch, nil
}

func fmtIn(s *hostexec.State) string {
	return fmt.Sprintf("rax=%#x rcx=%#x rdx=%#x rbx=%#x r8=%#x r9=%#x fl=%#x", s.Regs[rAX], s.Regs[rCX], s.Regs[rDX], s.Regs[rBX], s.Regs[r8], s.Regs[r9], s.Flags)
}

func fmtOut(s *hostexec.State, fl uint64) string {
	return fmt.Sprintf("rax=%#x rcx=%#x rdx=%#x rbx=%#x r8=%#x r9=%#x fl=%#x", s.Regs[rAX], s.Regs[rCX], s.Regs[rDX], s.Regs[rBX], s.Regs[r8], s.Regs[r9], fl&arithFlags)
}

func fmtOutC(c *CPU) string {
	return fmt.Sprintf("rax=%#x rcx=%#x rdx=%#x rbx=%#x r8=%#x r9=%#x fl=%#x", c.r[rAX], c.r[rCX], c.r[rDX], c.r[rBX], c.r[r8], c.r[r9], c.rflags()&arithFlags)
}

func constUndef(f uint64) func(*hostexec.State) uint64 {
	return func(*hostexec.State) uint64 { return f }
}

// sizePrefixes gives the encodings of one r/m,reg opcode at each size:
// byte form opcode op8, full form op8+1.
type sized struct {
	sz  uint8
	pre []byte
}

var sizes = []sized{{1, nil}, {2, []byte{0x66}}, {4, nil}, {8, []byte{0x48}}}

// regPairs are ModRM bytes (mod 11) naming two registers, plus the REX
// bits to OR in (for r8-r11).
var regPairs = []struct {
	modrm byte
	rex   byte
}{
	{0xc8, 0}, // rm=rax reg=rcx
	{0xd3, 0}, // rm=rbx reg=rdx
	{0xc0, 0}, // rax, rax
	{0xc8, 5}, // r8, r9 (REX.R|REX.B)
	{0xf7, 0}, // rm=rdi reg=rsi
}

func enc(sz sized, rex byte, op ...byte) []byte {
	var b []byte
	if sz.sz == 2 {
		b = append(b, 0x66)
	}
	r := rex
	if sz.sz == 8 {
		r |= 8
	}
	if r != 0 {
		b = append(b, 0x40|r)
	}
	return append(b, op...)
}

func aluCases() []diffCase {
	var cs []diffCase
	names := []string{"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"}
	for op := 0; op < 8; op++ {
		undef := uint64(0)
		if names[op] == "and" || names[op] == "or" || names[op] == "xor" {
			undef = flagAF
		}
		for _, sz := range sizes {
			o := byte(op * 8)
			if sz.sz != 1 {
				o++
			}
			for _, rp := range regPairs {
				cs = append(cs, diffCase{name: fmt.Sprintf("%s%d", names[op], sz.sz*8), code: enc(sz, rp.rex, o, rp.modrm), undef: constUndef(undef)})
				cs = append(cs, diffCase{name: fmt.Sprintf("%s%d-rev", names[op], sz.sz*8), code: enc(sz, rp.rex, o+2, rp.modrm), undef: constUndef(undef)})
			}
			// immediate forms: 80/81 /op, 83 /op ib
			if sz.sz == 1 {
				cs = append(cs, diffCase{name: names[op] + "8i", code: enc(sz, 0, 0x80, 0xc3|byte(op)<<3, 0x85), undef: constUndef(undef)})
				cs = append(cs, diffCase{name: names[op] + "8i-ah", code: enc(sz, 0, 0x80, 0xc4|byte(op)<<3, 0x7f), undef: constUndef(undef)})
			} else {
				imm := []byte{0x78, 0x56, 0x34, 0x92}
				if sz.sz == 2 {
					imm = imm[:2]
				}
				cs = append(cs, diffCase{name: names[op] + "i", code: enc(sz, 0, append([]byte{0x81, 0xc1 | byte(op)<<3}, imm...)...), undef: constUndef(undef)})
				cs = append(cs, diffCase{name: names[op] + "ib", code: enc(sz, 1, 0x83, 0xc1|byte(op)<<3, 0xff), undef: constUndef(undef)})
				cs = append(cs, diffCase{name: names[op] + "ib+", code: enc(sz, 0, 0x83, 0xc0|byte(op)<<3, 0x01), undef: constUndef(undef)})
			}
		}
	}
	// 8-bit high registers: add ah, al / add al, ch
	cs = append(cs, diffCase{name: "add-ah", code: []byte{0x00, 0xc4}}, diffCase{name: "sub-al-ch", code: []byte{0x28, 0xe8}},
		diffCase{name: "adc-bh-dh", code: []byte{0x10, 0xf7}})
	for _, sz := range sizes {
		o := byte(0x85)
		if sz.sz == 1 {
			o = 0x84
		}
		cs = append(cs, diffCase{name: fmt.Sprintf("test%d", sz.sz*8), code: enc(sz, 0, o, 0xc8), undef: constUndef(flagAF)})
	}
	return cs
}

func unaryCases() []diffCase {
	var cs []diffCase
	for _, sz := range sizes {
		o, oi := byte(0xf7), byte(0xff)
		if sz.sz == 1 {
			o, oi = 0xf6, 0xfe
		}
		w := sz.sz
		cs = append(cs,
			diffCase{name: fmt.Sprintf("not%d", w*8), code: enc(sz, 0, o, 0xd1)},
			diffCase{name: fmt.Sprintf("neg%d", w*8), code: enc(sz, 0, o, 0xd9)},
			diffCase{name: fmt.Sprintf("neg%d-r9", w*8), code: enc(sz, 1, o, 0xd9)},
			diffCase{name: fmt.Sprintf("inc%d", w*8), code: enc(sz, 0, oi, 0xc1)},
			diffCase{name: fmt.Sprintf("dec%d", w*8), code: enc(sz, 0, oi, 0xcb)},
			diffCase{name: fmt.Sprintf("mul%d", w*8), code: enc(sz, 0, o, 0xe3), undef: constUndef(flagSF | flagZF | flagAF | flagPF)},
			diffCase{name: fmt.Sprintf("imul1-%d", w*8), code: enc(sz, 0, o, 0xeb), undef: constUndef(flagSF | flagZF | flagAF | flagPF)},
			diffCase{name: fmt.Sprintf("div%d", w*8), code: enc(sz, 0, o, 0xf3), undef: constUndef(arithFlags), skip: divSkip(w, false)},
			diffCase{name: fmt.Sprintf("idiv%d", w*8), code: enc(sz, 0, o, 0xfb), undef: constUndef(arithFlags), skip: divSkip(w, true)},
		)
		if w != 1 {
			cs = append(cs,
				diffCase{name: fmt.Sprintf("imul2-%d", w*8), code: enc(sz, 0, 0x0f, 0xaf, 0xc3), undef: constUndef(flagSF | flagZF | flagAF | flagPF)},
				diffCase{name: fmt.Sprintf("imul3b-%d", w*8), code: enc(sz, 0, 0x6b, 0xc3, 0x85), undef: constUndef(flagSF | flagZF | flagAF | flagPF)},
				diffCase{name: fmt.Sprintf("imul3-%d", w*8), code: enc(sz, 0, append([]byte{0x69, 0xc3, 0x45, 0x73}, []byte{0x12, 0x81}[:map[uint8]int{2: 0, 4: 2, 8: 2}[w]]...)...), undef: constUndef(flagSF | flagZF | flagAF | flagPF)},
			)
		}
	}
	return cs
}

// divSkip rejects inputs whose quotient does not fit (native #DE),
// decided with math/big, not with the code under test.
func divSkip(sz uint8, signed bool) func(*hostexec.State) bool {
	return func(in *hostexec.State) bool {
		q, ok := bigDiv(in, sz, signed)
		_ = q
		return !ok
	}
}

func bigDiv(in *hostexec.State, sz uint8, signed bool) (*big.Int, bool) {
	w := uint(sz) * 8
	mask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), w), big.NewInt(1))
	part := func(v uint64) *big.Int { return new(big.Int).And(new(big.Int).SetUint64(v), mask) }
	var hi, lo *big.Int
	if sz == 1 {
		hi, lo = part(in.Regs[rAX]>>8), part(in.Regs[rAX])
	} else {
		hi, lo = part(in.Regs[rDX]), part(in.Regs[rAX])
	}
	dividend := new(big.Int).Or(new(big.Int).Lsh(hi, w), lo)
	divisor := part(in.Regs[rBX])
	if signed {
		toS := func(v *big.Int, bits uint) *big.Int {
			if v.Bit(int(bits-1)) == 1 {
				return new(big.Int).Sub(v, new(big.Int).Lsh(big.NewInt(1), bits))
			}
			return v
		}
		dividend, divisor = toS(dividend, 2*w), toS(divisor, w)
	}
	if divisor.Sign() == 0 {
		return nil, false
	}
	q := new(big.Int).Quo(dividend, divisor)
	if signed {
		lim := new(big.Int).Lsh(big.NewInt(1), w-1)
		return q, q.Cmp(new(big.Int).Neg(lim)) >= 0 && q.Cmp(lim) < 0
	}
	return q, q.Cmp(mask) <= 0
}

func shiftCases() []diffCase {
	var cs []diffCase
	names := []string{"rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"}
	for op := 0; op < 8; op++ {
		if op == 6 {
			continue
		}
		for _, sz := range sizes {
			w := uint64(sz.sz) * 8
			cm := uint64(31)
			if w == 64 {
				cm = 63
			}
			undefFor := func(n uint64) uint64 {
				n &= cm
				if n == 0 {
					return 0
				}
				var u uint64
				if n != 1 {
					u |= flagOF
				}
				if op >= 4 {
					u |= flagAF
					if op != 7 && n >= w {
						u |= flagCF | flagOF
					}
				}
				return u
			}
			base := byte(0xd3)
			if sz.sz == 1 {
				base = 0xd2
			}
			name := fmt.Sprintf("%s%d", names[op], w)
			cs = append(cs,
				diffCase{name: name + "-cl", code: enc(sz, 0, base, 0xc3|byte(op)<<3),
					undef: func(in *hostexec.State) uint64 { return undefFor(in.Regs[rCX]) }},
				diffCase{name: name + "-1", code: enc(sz, 0, base-2, 0xc3|byte(op)<<3),
					undef: func(in *hostexec.State) uint64 { return undefFor(1) }},
			)
			for _, n := range []uint64{0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 200} {
				n := n
				cs = append(cs, diffCase{name: fmt.Sprintf("%s-i%d", name, n), code: enc(sz, 1, base-0x12, 0xc3|byte(op)<<3, byte(n)),
					undef: func(in *hostexec.State) uint64 { return undefFor(n) }})
			}
		}
	}
	// SHLD/SHRD: for 16-bit, counts above 16 leave the result undefined.
	for _, sz := range sizes[1:] {
		w := uint64(sz.sz) * 8
		cm := uint64(31)
		if w == 64 {
			cm = 63
		}
		for _, o := range []byte{0xa5, 0xad} {
			name := map[byte]string{0xa5: "shld", 0xad: "shrd"}[o] + fmt.Sprint(w)
			cs = append(cs, diffCase{name: name, code: enc(sz, 0, 0x0f, o, 0xd3),
				undef: func(in *hostexec.State) uint64 {
					n := in.Regs[rCX] & cm
					if n == 0 {
						return 0
					}
					u := uint64(flagAF)
					if n != 1 {
						u |= flagOF
					}
					if n > w {
						u |= arithFlags
					}
					return u
				},
				undefReg: func(in *hostexec.State) []int {
					if in.Regs[rCX]&cm > w {
						return []int{rBX}
					}
					return nil
				}})
		}
	}
	return cs
}

func bitCases() []diffCase {
	var cs []diffCase
	for _, sz := range sizes[1:] {
		w := sz.sz * 8
		for i, o := range []byte{0xa3, 0xab, 0xb3, 0xbb} {
			cs = append(cs, diffCase{name: fmt.Sprintf("bt%d-%d", i, w), code: enc(sz, 0, 0x0f, o, 0xc3), undef: constUndef(flagOF | flagSF | flagAF | flagPF | flagZF)})
			cs = append(cs, diffCase{name: fmt.Sprintf("bt%di-%d", i, w), code: enc(sz, 0, 0x0f, 0xba, 0xe3|byte(i)<<3, 0x25), undef: constUndef(flagOF | flagSF | flagAF | flagPF | flagZF)})
		}
		for i, o := range []byte{0xbc, 0xbd} {
			cs = append(cs, diffCase{name: fmt.Sprintf("bs%d-%d", i, w), code: enc(sz, 0, 0x0f, o, 0xc3), undef: constUndef(flagCF | flagOF | flagSF | flagAF | flagPF)})
		}
		cs = append(cs,
			diffCase{name: fmt.Sprintf("xadd%d", w), code: enc(sz, 0, 0x0f, 0xc1, 0xd3)},
			diffCase{name: fmt.Sprintf("cmpxchg%d", w), code: enc(sz, 0, 0x0f, 0xb1, 0xd3)},
			diffCase{name: fmt.Sprintf("xchg%d", w), code: enc(sz, 0, 0x87, 0xd3)},
			diffCase{name: fmt.Sprintf("movzx8-%d", w), code: enc(sz, 0, 0x0f, 0xb6, 0xc7)},
			diffCase{name: fmt.Sprintf("movsx8-%d", w), code: enc(sz, 0, 0x0f, 0xbe, 0xc7)},
			diffCase{name: fmt.Sprintf("movzx16-%d", w), code: enc(sz, 0, 0x0f, 0xb7, 0xc3)},
			diffCase{name: fmt.Sprintf("movsx16-%d", w), code: enc(sz, 0, 0x0f, 0xbf, 0xc3)},
			diffCase{name: fmt.Sprintf("lea%d", w), code: enc(sz, 0, 0x8d, 0x44, 0x5a, 0x85)},
			diffCase{name: fmt.Sprintf("cbw%d", w), code: enc(sz, 0, 0x98)},
			diffCase{name: fmt.Sprintf("cwd%d", w), code: enc(sz, 0, 0x99)},
		)
		for cc := byte(0); cc < 16; cc++ {
			cs = append(cs, diffCase{name: fmt.Sprintf("cmov%x-%d", cc, w), code: enc(sz, 0, 0x0f, 0x40+cc, 0xc3)})
		}
	}
	for _, sz := range sizes[2:] {
		cs = append(cs, diffCase{name: fmt.Sprintf("bswap%d", sz.sz*8), code: enc(sz, 0, 0x0f, 0xcb)})
	}
	cs = append(cs,
		diffCase{name: "movsxd", code: []byte{0x48, 0x63, 0xc3}},
		diffCase{name: "xadd8", code: []byte{0x0f, 0xc0, 0xd3}},
		diffCase{name: "cmpxchg8", code: []byte{0x0f, 0xb0, 0xd3}},
		diffCase{name: "lea32-addr32", code: []byte{0x67, 0x8d, 0x44, 0x5a, 0x85}},
		// Operand- and address-size prefixes in 64-bit code: a 32-bit
		// address wraps at 4 GiB and is zero-extended into a 64-bit
		// destination; a 16-bit destination merges; 67 on a register
		// form changes nothing.
		diffCase{name: "lea64-addr32", code: []byte{0x67, 0x48, 0x8d, 0x04, 0x08}},
		diffCase{name: "lea16-addr32", code: []byte{0x66, 0x67, 0x8d, 0x04, 0x08}},
		diffCase{name: "lea16-addr64", code: []byte{0x66, 0x8d, 0x44, 0x5a, 0x85}},
		diffCase{name: "lea64-addr32-disp", code: []byte{0x67, 0x48, 0x8d, 0x84, 0x8b, 0x00, 0x00, 0x00, 0x80}},
		diffCase{name: "add32-a67", code: []byte{0x67, 0x01, 0xc8}},
		diffCase{name: "add16-a67", code: []byte{0x66, 0x67, 0x01, 0xc8}},
		diffCase{name: "sub16-rex-a67", code: []byte{0x66, 0x67, 0x45, 0x29, 0xc8}},
		diffCase{name: "lahf", code: []byte{0x9f}},
		diffCase{name: "sahf", code: []byte{0x9e}},
		diffCase{name: "cmc", code: []byte{0xf5}},
		diffCase{name: "stc", code: []byte{0xf9}},
		diffCase{name: "clc", code: []byte{0xf8}},
	)
	for cc := byte(0); cc < 16; cc++ {
		cs = append(cs, diffCase{name: fmt.Sprintf("set%x", cc), code: []byte{0x0f, 0x90 + cc, 0xc3}})
		// cmp then setcc: condition evaluated from the lazy SUB record
		cs = append(cs, diffCase{name: fmt.Sprintf("cmp-set%x", cc), code: []byte{0x48, 0x39, 0xd0, 0x0f, 0x90 + cc, 0xc3}})
		cs = append(cs, diffCase{name: fmt.Sprintf("cmp32-set%x", cc), code: []byte{0x39, 0xd0, 0x0f, 0x90 + cc, 0xc3}})
		cs = append(cs, diffCase{name: fmt.Sprintf("cmp8-set%x", cc), code: []byte{0x38, 0xd0, 0x0f, 0x90 + cc, 0xc3}})
		cs = append(cs, diffCase{name: fmt.Sprintf("add-set%x", cc), code: []byte{0x48, 0x01, 0xd0, 0x0f, 0x90 + cc, 0xc3}})
		cs = append(cs, diffCase{name: fmt.Sprintf("inc-set%x", cc), code: []byte{0xff, 0xc0, 0x0f, 0x90 + cc, 0xc3}})
	}
	return cs
}

// TestDiffLegacyModes runs the register forms of the differential cases
// in 32-bit and 16-bit protected mode.
func TestDiffLegacyModes(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 60
	}
	for _, mode := range []int{32, 16} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			var cs []diffCase
			for _, f := range []func() []diffCase{aluCases, unaryCases, shiftCases, bitCases} {
				cs = append(cs, f()...)
			}
			reportUndef(t, func() map[string][2]int { m, _ := runDiffIn(t, cs, n, mode); return m }())
		})
	}
}

func TestDiffALU(t *testing.T)   { reportUndef(t, runDiffN(t, aluCases(), 2000)) }
func TestDiffUnary(t *testing.T) { reportUndef(t, runDiffN(t, unaryCases(), 3000)) }
func TestDiffShift(t *testing.T) { reportUndef(t, runDiffN(t, shiftCases(), 600)) }
func TestDiffBits(t *testing.T)  { reportUndef(t, runDiffN(t, bitCases(), 1000)) }

// legacyCode re-encodes a single 64-bit-mode instruction without REX for
// mode 32 or 16: the same operand size (66 toggled for 16-bit code) and
// 32-bit addressing (what 64-bit addressing truncates to for the
// register and LEA forms the cases use).
func legacyCode(code []byte, mode int) ([]byte, bool) {
	inst, err := x86asm.Decode(code, 64)
	if err != nil || inst.Len != len(code) {
		return nil, false
	}
	p := 0
	had66 := false
	for ; p < len(code); p++ {
		switch code[p] {
		case 0x66:
			had66 = true
			continue
		case 0x67:
			continue
		}
		break
	}
	if code[p]&0xf0 == 0x40 {
		return nil, false // REX: 64-bit only
	}
	var out []byte
	if had66 == (mode == 32) && opSize(&inst) != 1 {
		out = append(out, 0x66) // (byte operations have no 66 form)
	}
	for _, a := range inst.Args {
		if _, ok := a.(x86asm.Mem); ok && mode == 16 {
			out = append(out, 0x67)
		}
	}
	return append(out, code[p:]...), true
}

func runDiffN(t *testing.T, cs []diffCase, n int) map[string][2]int {
	if testing.Short() {
		n /= 5
	}
	m, _ := runDiff(t, cs, n)
	return m
}

func reportUndef(t *testing.T, m map[string][2]int) {
	for name, v := range m {
		if v[1] > 0 && v[0] != v[1] {
			t.Logf("%s: undefined flags match the host in %d of %d cases", name, v[0], v[1])
		}
	}
}
