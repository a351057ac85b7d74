package cpu

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// The x86.csv rows of the remaining CPUID features (AVX, AVX2, FMA, F16C,
// BMI1, BMI2, SHA, FSGSBASE, HLE, RTM, INVPCID, LZCNT, PRFCHW, RDRAND and
// the AES/CLMUL-with-AVX rows) in the ISA coverage report (isacov_test.go,
// "other features"). What each must do follows softvmm's CPU model
// (cpuid.go): a feature it does not advertise raises #UD, except where
// the manuals define another behaviour on a processor without it; a
// feature it advertises executes and is compared with an oracle below.

// otherFeatureBits are the CPUID bits behind x86.csv's feature column
// (SDM Vol. 2A CPUID, Tables 3-8 (leaf 1), 3-8 leaf 07H EBX, and
// 80000001H ECX). anyOf: one of them suffices ("HLE or RTM"); otherwise
// all are needed ("Both AES and AVX flags").
var otherFeatureBits = map[string]struct {
	bits  []cpuidBit
	anyOf bool
}{
	"AVX":                      {bits: []cpuidBit{{"AVX", 1, 0, 2, 28}}},
	"AVX2":                     {bits: []cpuidBit{{"AVX2", 7, 0, 1, 5}}},
	"FMA":                      {bits: []cpuidBit{{"FMA", 1, 0, 2, 12}}},
	"F16C":                     {bits: []cpuidBit{{"F16C", 1, 0, 2, 29}}},
	"BMI1":                     {bits: []cpuidBit{{"BMI1", 7, 0, 1, 3}}},
	"BMI2":                     {bits: []cpuidBit{{"BMI2", 7, 0, 1, 8}}},
	"SHA":                      {bits: []cpuidBit{{"SHA", 7, 0, 1, 29}}},
	"FSGSBASE":                 {bits: []cpuidBit{{"FSGSBASE", 7, 0, 1, 0}}},
	"HLE":                      {bits: []cpuidBit{{"HLE", 7, 0, 1, 4}}},
	"RTM":                      {bits: []cpuidBit{{"RTM", 7, 0, 1, 11}}},
	"HLE or RTM":               {bits: []cpuidBit{{"HLE", 7, 0, 1, 4}, {"RTM", 7, 0, 1, 11}}, anyOf: true},
	"INVPCID":                  {bits: []cpuidBit{{"INVPCID", 7, 0, 1, 10}}},
	"LZCNT":                    {bits: []cpuidBit{{"LZCNT/ABM", 0x80000001, 0, 2, 5}}},
	"PRFCHW":                   {bits: []cpuidBit{{"PRFCHW", 0x80000001, 0, 2, 8}}},
	"RDRAND":                   {bits: []cpuidBit{{"RDRAND", 1, 0, 2, 30}}},
	"Both AES and AVX flags":   {bits: []cpuidBit{{"AES", 1, 0, 2, 25}, {"AVX", 1, 0, 2, 28}}},
	"Both CLMUL and AVX flags": {bits: []cpuidBit{{"PCLMULQDQ", 1, 0, 2, 1}, {"AVX", 1, 0, 2, 28}}},
}

// notUDWithoutFeature are rows whose encoding the manuals give a defined
// behaviour on a processor without the feature, so they execute in
// softvmm's model although the feature bit is clear.
var notUDWithoutFeature = map[string]string{
	// SDM TZCNT: "On processors that do not support TZCNT, the
	// instruction byte encoding is executed as BSF."
	"TZCNT": "without BMI1 it is BSF (SDM TZCNT)",
	// SDM PREFETCHW lists no CPUID #UD (its only #UD is LOCK); APM Vol. 3
	// PREFETCHW: supported when CPUID Fn8000_0001_EDX[LM] = 1, which
	// softvmm advertises; this AMD host runs 0F 0D /1 with a memory
	// operand (the #UD sweep's host probe) and #UDs only the register
	// form. A hint with no architectural effect either way.
	"PREFETCHW": "a hint: LM implies it (APM Vol. 3 PREFETCHW; SDM lists no CPUID #UD)",
	// SDM Vol. 2B XACQUIRE/XRELEASE, note 1 of the opcode table: software
	// need not check the HLE flag, the prefixes "are treated as regular
	// prefix if HLE feature flag reports 0" (an ignored F2/F3 on LOCK ADD
	// and MOV to memory): the instruction runs.
	"XACQUIRE": "prefix ignored without HLE (SDM XACQUIRE/XRELEASE note 1)",
	"XRELEASE": "prefix ignored without HLE (SDM XACQUIRE/XRELEASE note 1)",
}

// otherFeatureRule says whether row r of an other feature must raise #UD
// on c's CPU model, and why.
func otherFeatureRule(c *CPU, r *isaRow) (wantUD bool, why string) {
	if w := notUDWithoutFeature[r.mn]; w != "" && !c.otherAdvertised(r.otherFeature) {
		return false, w
	}
	if c.otherAdvertised(r.otherFeature) {
		if r.otherFeature == "FSGSBASE" {
			// SDM RDFSBASE/WRFSBASE: #UD also while CR4.FSGSBASE[16] =
			// 0; the probe leaves it clear.
			return true, "CR4.FSGSBASE clear (SDM RDFSBASE)"
		}
		return false, r.otherFeature + " advertised (cpuid.go)"
	}
	if strings.HasPrefix(r.enc, "VEX") {
		// SDM Vol. 2A §2.8, the VEX exception classes: "#UD ... If any
		// corresponding CPUID feature flag is '0'" (and if XCR0[2:1] is
		// not 11b, which softvmm's XCR0 cannot be: xcr0Supported).
		return true, r.otherFeature + " not advertised"
	}
	// SDM Vol. 2, each instruction's "#UD If CPUID...FEATURE[bit] = 0".
	return true, r.otherFeature + " not advertised"
}

func (c *CPU) otherAdvertised(feature string) bool {
	fb, ok := otherFeatureBits[feature]
	if !ok {
		return false
	}
	n := 0
	for _, f := range fb.bits {
		a, b, cx, d := c.cpuid(f.leaf, f.sub)
		if [4]uint32{a, b, cx, d}[f.reg]>>f.bit&1 != 0 {
			n++
		}
	}
	if fb.anyOf {
		return n > 0
	}
	return n == len(fb.bits)
}

// encodeVEX builds a VEX-encoded row (SDM Vol. 2A §2.3.5): the two-byte
// C5 form where it can express the row (map 0F, W0, no X/B extension),
// else the three-byte C4 form; VEX.vvvv names register 1 for
// NDS/NDD/DDS rows and is 1111b otherwise; /is4 is register 4. In 32- and
// 16-bit mode C4/C5 are VEX only when the next byte's bits 7:6 are 11
// (else they are LES/LDS, §2.3.5); with registers 0-7 the inverted
// R/X (C4) or R/vvvv[3] (C5) bits are 1, so every encoding built here
// is a VEX prefix in every mode, memory operands included.
func (r *isaRow) encodeVEX(mode int, o encOpts) ([]byte, error) {
	toks := strings.Fields(r.enc)
	head := strings.Replace(strings.Replace(toks[0], "VEX128", "VEX.128", 1), "660F", "66.0F", 1)
	var l, w, pp, mmmmm byte
	nds := false
	var ops []byte
	for _, f := range strings.Split(head, ".")[1:] {
		switch f {
		case "NDS", "NDD", "DDS":
			nds = true
		case "128", "L0", "LZ", "LIG":
		case "256", "L1":
			l = 1
		case "66":
			pp = 1
		case "F3":
			pp = 2
		case "F2":
			pp = 3
		case "0F":
			mmmmm = 1
		case "0F38":
			mmmmm = 2
		case "0F3A":
			mmmmm = 3
		case "W0", "WIG", "0": // "0": x86.csv's spelling of W0 in three FMA rows
		case "W1":
			w = 1
		default:
			// x86.csv glues one opcode to the prefix ("W0.1D").
			b, err := strconv.ParseUint(f, 16, 8)
			if err != nil {
				return nil, fmt.Errorf("VEX field %q", f)
			}
			ops = append(ops, byte(b))
		}
	}
	if mmmmm == 0 {
		return nil, fmt.Errorf("VEX row without an opcode map")
	}
	var modrm, tail, pre []byte
	var rex byte
	addr67 := false
	for _, a := range r.args {
		if strings.HasPrefix(a, "vm") {
			// A VSIB operand (gathers): a SIB byte with a vector index
			// is required (SDM Vol. 2A §2.3.12; no SIB is #UD), and
			// 32-bit addressing, so 67 in 16-bit mode.
			o.mem, o.index = true, 5
			if mode == 16 {
				addr67, pre = true, []byte{0x67}
			}
		}
	}
	for _, tok := range toks[1:] {
		switch {
		case tok == "/r" || len(tok) == 2 && tok[0] == '/' && tok[1] >= '0' && tok[1] <= '7':
			reg := o.reg
			if tok != "/r" {
				reg = tok[1] - '0'
			}
			if reg >= 8 {
				rex |= 4
			}
			modrm, _ = r.modrm(mode, addr67, o, reg&7, &rex)
		case tok == "ib":
			tail = append(tail, byte(o.imm[0]))
		case tok == "/is4":
			tail = append(tail, 4<<4)
		default:
			b, err := strconv.ParseUint(tok, 16, 8)
			if err != nil {
				return nil, fmt.Errorf("VEX encoding token %q", tok)
			}
			ops = append(ops, byte(b))
		}
	}
	if len(ops) != 1 {
		return nil, fmt.Errorf("VEX row with %d opcode bytes", len(ops))
	}
	if rex&7 != 0 && mode != 64 {
		return nil, fmt.Errorf("register 8-15 in %d-bit mode", mode)
	}
	vvvv := byte(0xf)
	if nds {
		vvvv = ^byte(1) & 0xf
	}
	rb, xb, bb := ^rex>>2&1, ^rex>>1&1, ^rex&1
	out := pre
	if mmmmm == 1 && w == 0 && xb == 1 && bb == 1 {
		out = append(out, 0xc5, rb<<7|vvvv<<3|l<<2|pp)
	} else {
		out = append(out, 0xc4, rb<<7|xb<<6|bb<<5|mmmmm, w<<7|vvvv<<3|l<<2|pp)
	}
	out = append(out, ops...)
	out = append(out, modrm...)
	return append(out, tail...), nil
}

// hleEncoding builds the XACQUIRE (F2) or XRELEASE (F3) pseudo row as the
// prefix on LOCK ADD r/m, r with a memory destination, the use the SDM
// gives them (Vol. 2B XACQUIRE/XRELEASE).
func hleEncoding(r *isaRow, mode int, o encOpts) ([]byte, error) {
	o.mem = true
	var rex byte
	m, _ := r.modrm(mode, false, o, o.reg&7, &rex)
	if rex != 0 {
		return nil, fmt.Errorf("HLE probe with registers 8-15")
	}
	return append([]byte{map[string]byte{"XACQUIRE": 0xf2, "XRELEASE": 0xf3}[r.mn], 0xf0, 0x01}, m...), nil
}

// TestOtherFeatureRowsHost compares the rows of other features that
// execute in softvmm's model with the host, in 64-, 32- and 16-bit mode
// (userGuest; in 64-bit mode the window is identity-mapped, so the host's
// code runs unchanged): LZCNT (advertised through ABM, SDM LZCNT: OF SF
// AF PF undefined) and TZCNT (BSF without BMI1; the host, which has BMI1,
// runs BSF: ZF defined; for a zero source the SDM leaves the destination
// undefined and the APM keeps it, as here), PREFETCHW [mem] (no effect),
// and XACQUIRE/XRELEASE on LOCK ADD, XCHG and (XRELEASE) MOV to memory:
// the host ignores the hints as the SDM says processors without HLE do
// (this AMD host has no HLE; on one that has it, elision commits the same
// result).
func TestOtherFeatureRowsHost(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	n := 200
	if testing.Short() {
		n = 40
	}
	wb := uint64(hostexec.WindowBase)
	for _, mode := range isaModes {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			g := newUserGuest(t, mode)
			if mode == 64 {
				g.c.seg[segDS].base, g.c.seg[segSS].base = 0, 0
				g.save = *g.c
			}
			rng := rand.New(rand.NewPCG(47, uint64(mode)))
			// [bx] / [ebx] in legacy code (DS at WindowBase), [rbx] with
			// RBX in the window in 64-bit code; the host: [rbx+WindowBase]
			// (disp32) in legacy mode, [rbx] in 64-bit mode.
			gm := func(reg byte) []byte {
				if mode == 16 {
					return []byte{0x07 | reg<<3}
				}
				return []byte{0x03 | reg<<3}
			}
			hm := func(reg byte) []byte {
				if mode == 64 {
					return []byte{0x03 | reg<<3}
				}
				return cat([]byte{0x83 | reg<<3}, le32(wb))
			}
			in := atData(rBX)
			if mode == 64 {
				in = func(rng *rand.Rand, st *hostexec.FullState, mem []byte) {
					atData(rBX)(rng, st, mem)
					st.Regs[rBX] += wb
				}
			}
			type rowCaseSet struct {
				rows []string
				uc   userCase
			}
			var cs []rowCaseSet
			for _, bits := range []int{16, 32, 64} {
				if bits == 64 && mode != 64 {
					continue
				}
				pre := osz(mode, bits)
				hpre := osz(64, bits)
				if bits == 64 {
					pre, hpre = []byte{0x48}, []byte{0x48}
				}
				// 66 F3 ... and F3 REX.W ... (a REX must come last).
				if bits != 64 {
					// XACQUIRE/XRELEASE on LOCK ADD and (XRELEASE only)
					// MOV to memory, the forms the SDM gives them.
					cs = append(cs,
						rowCaseSet{[]string{"XACQUIRE"}, userCase{name: fmt.Sprintf("xacquire lock add m%d, r", bits),
							guest: cat(pre, []byte{0xf2, 0xf0, 0x01}, gm(2)), host: cat(hpre, []byte{0xf2, 0xf0, 0x01}, hm(2)), in: in}},
						rowCaseSet{[]string{"XRELEASE"}, userCase{name: fmt.Sprintf("xrelease lock add m%d, r", bits),
							guest: cat(pre, []byte{0xf3, 0xf0, 0x01}, gm(2)), host: cat(hpre, []byte{0xf3, 0xf0, 0x01}, hm(2)), in: in}},
						rowCaseSet{[]string{"XRELEASE"}, userCase{name: fmt.Sprintf("xrelease mov m%d, r", bits),
							guest: cat(pre, []byte{0xf3, 0x89}, gm(2)), host: cat(hpre, []byte{0xf3, 0x89}, hm(2)), in: in}},
						rowCaseSet{[]string{"XRELEASE"}, userCase{name: fmt.Sprintf("xrelease mov m%d, imm", bits),
							guest: cat(pre, []byte{0xf3, 0xc7}, gm(0), imm(bits)), host: cat(hpre, []byte{0xf3, 0xc7}, hm(0), imm(bits)), in: in}},
						rowCaseSet{[]string{"XACQUIRE"}, userCase{name: fmt.Sprintf("xacquire xchg m%d, r (no LOCK)", bits),
							guest: cat(pre, []byte{0xf2, 0x87}, gm(2)), host: cat(hpre, []byte{0xf2, 0x87}, hm(2)), in: in}},
						rowCaseSet{[]string{"XRELEASE"}, userCase{name: fmt.Sprintf("xrelease lock xchg m%d, r", bits),
							guest: cat(pre, []byte{0xf3, 0xf0, 0x87}, gm(2)), host: cat(hpre, []byte{0xf3, 0xf0, 0x87}, hm(2)), in: in}})
				}
				cs = append(cs,
					rowCaseSet{[]string{fmt.Sprintf("LZCNT r%d, r/m%d", bits, bits)}, userCase{name: fmt.Sprintf("lzcnt r%d", bits),
						guest: cat(osz16first(pre), []byte{0xf3}, rexLast(pre), []byte{0x0f, 0xbd, 0xd3}),
						host:  cat(osz16first(hpre), []byte{0xf3}, rexLast(hpre), []byte{0x0f, 0xbd, 0xd3}),
						undef: flagOF | flagSF | flagAF | flagPF}},
					rowCaseSet{[]string{fmt.Sprintf("LZCNT r%d, r/m%d", bits, bits)}, userCase{name: fmt.Sprintf("lzcnt r%d, m%d", bits, bits),
						guest: cat(osz16first(pre), []byte{0xf3}, rexLast(pre), []byte{0x0f, 0xbd}, gm(2)),
						host:  cat(osz16first(hpre), []byte{0xf3}, rexLast(hpre), []byte{0x0f, 0xbd}, hm(2)), in: in,
						undef: flagOF | flagSF | flagAF | flagPF}},
					rowCaseSet{[]string{fmt.Sprintf("TZCNT r%d, r/m%d", bits, bits)}, userCase{name: fmt.Sprintf("tzcnt r%d (bsf)", bits),
						guest: cat(osz16first(pre), []byte{0xf3}, rexLast(pre), []byte{0x0f, 0xbc, 0xd3}),
						host:  cat(hpre, []byte{0x0f, 0xbc, 0xd3}),
						undef: flagOF | flagSF | flagAF | flagPF | flagCF, in: nonZero(rBX, bits)}},
				)
			}
			cs = append(cs,
				rowCaseSet{[]string{"PREFETCHW m8"}, userCase{name: "prefetchw m8", guest: cat([]byte{0x0f, 0x0d}, gm(1)), host: cat([]byte{0x0f, 0x0d}, hm(1)), in: in}},
			)
			if mode == 64 {
				// userGuest compares the low 32 bits of each register:
				// too little for 64-bit operands and for the zero
				// extension of 32-bit ones. In 64-bit mode the LZCNT and
				// TZCNT rows are verified by TestDiffLZCNT and
				// TestTZCNTWithoutBMI1IsBSF (isaud_test.go; full 64-bit
				// registers against the host); these runs still compare.
				for i := range cs {
					if strings.Contains(cs[i].uc.name, "cnt") {
						cs[i].rows = nil
					}
				}
			}
			ok := map[string]bool{}
			for i := range cs {
				pass := g.run(t, &cs[i].uc, n, rng)
				for _, row := range cs[i].rows {
					if v, seen := ok[row]; !seen || v {
						ok[row] = pass
					}
				}
			}
			for row, pass := range ok {
				if pass {
					markVerified(mode, row)
				}
			}
		})
	}
}

// imm is an immediate of bits/8 bytes (5A A5 ...).
func imm(bits int) []byte { return []byte{0x5a, 0xa5, 0x3c, 0xc3}[:bits/8] }

// osz16first and rexLast split a size prefix list so that a mandatory
// F3 goes between the operand-size prefix and a REX.
func osz16first(pre []byte) []byte {
	if len(pre) == 1 && pre[0] == 0x66 {
		return pre
	}
	return nil
}

func rexLast(pre []byte) []byte {
	if len(pre) == 1 && pre[0]&0xf0 == 0x40 {
		return pre
	}
	return nil
}

// nonZero makes register r's low bits zero half of the time, so both
// outcomes of ZF are compared (for a zero source the SDM leaves BSF's
// destination undefined; APM BSF: unchanged, as on this AMD host and in
// softvmm).
func nonZero(r, bits int) func(*rand.Rand, *hostexec.FullState, []byte) {
	return func(rng *rand.Rand, st *hostexec.FullState, _ []byte) {
		if rng.IntN(2) == 0 {
			st.Regs[r] &^= sizeMask[bits/8]
			return
		}
		if st.Regs[r]&sizeMask[bits/8] == 0 {
			st.Regs[r] |= 1 << uint(rng.IntN(bits))
		}
	}
}

// TestRdrandRowsInModes checks RDRAND (advertised: CPUID.01H:ECX.RDRAND
// [30]) in 64-, 32- and 16-bit mode against the SDM (RDRAND: CF = 1 with
// a valid number, OF SF ZF AF PF cleared; a 16-bit destination merges,
// a 32-bit one zero-extends in 64-bit mode) and softvmm's determinism
// (DESIGN.md "Determinism"): two runs give the same numbers, successive
// RDRANDs and another vCPU other numbers. (It replaces the 64-bit-only
// TestRdrandDeterministic.)
func TestRdrandRowsInModes(t *testing.T) {
	for _, mode := range isaModes {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			var code []byte
			rows := []string{"RDRAND rmf16", "RDRAND rmf32"}
			if mode == 64 {
				code = append(code, 0x48, 0x0f, 0xc7, 0xf0) // rdrand rax
				rows = append(rows, "RDRAND r64")
			}
			code = append(code, cat(osz(mode, 32), []byte{0x0f, 0xc7, 0xf3})...) // rdrand ebx
			code = append(code, cat(osz(mode, 16), []byte{0x0f, 0xc7, 0xf1})...) // rdrand cx
			code = append(code, 0xf4)
			seq := func(vcpu int) [3]uint64 {
				c, ram, at := branchGuest(t, mode)
				copy(ram.b[at:], code)
				c.rip = at
				c.vcpuid = vcpu
				c.r[rAX], c.r[rBX], c.r[rCX] = ^uint64(0), ^uint64(0), ^uint64(0)
				c.setRflags(2 | flagsArith)
				if ex := c.Run(10); ex.Reason != ExitHLT || ex.RIP != at+uint64(len(code))-1 {
					t.Fatalf("exit %v at %#x (err %v)", ex.Reason, ex.RIP, ex.Err)
				}
				if c.rflags()&flagsArith != flagCF {
					t.Errorf("flags %#x after rdrand, want CF only", c.rflags()&flagsArith)
				}
				if mode == 64 && c.r[rBX]>>32 != 0 {
					t.Errorf("rbx %#x: a 32-bit result must zero-extend", c.r[rBX])
				}
				if c.r[rCX]>>16 != 0xffffffffffff {
					t.Errorf("rcx %#x: a 16-bit result must merge", c.r[rCX])
				}
				return [3]uint64{c.r[rAX], c.r[rBX], c.r[rCX]}
			}
			a, b, other := seq(0), seq(0), seq(1)
			if a != b {
				t.Errorf("two runs differ: %#x vs %#x", a, b)
			}
			if a == other || a[1]&0xffff == a[2]&0xffff {
				t.Errorf("vCPU 0 %#x, vCPU 1 %#x: sequences must differ", a, other)
			}
			if !t.Failed() {
				for _, r := range rows {
					markVerified(mode, r)
				}
			}
		})
	}
}

// TestVEXProbeEncodingsObjdump checks the encodings the coverage probe
// runs for the VEX rows (encodeVEX) with GNU objdump in each mode: one
// instruction each, of the row's mnemonic, with ymm operands exactly
// when the row has them (VEX.L) — so the probes' #UD is that of the row
// and not of a malformed or different instruction.
func TestVEXProbeEncodingsObjdump(t *testing.T) {
	objdump, err := exec.LookPath("objdump")
	if err != nil {
		t.Skip("objdump not installed")
	}
	machine := map[int]string{64: "i386:x86-64", 32: "i386", 16: "i8086"}
	for _, mode := range isaModes {
		var rows []*isaRow
		var offs []int
		var all []byte
		for _, r := range isaRows(t) {
			if !strings.HasPrefix(r.enc, "VEX") || r.validity(mode) != "V" {
				continue
			}
			for _, mem := range []bool{false, true} {
				if mem && !r.allowsMem() || !mem && !r.allowsReg() {
					continue
				}
				code, err := r.encode(mode, encOpts{index: noReg, reg: 2, rm: 3, base: rBX, disp: 8, dispLen: 1, mem: mem})
				if err != nil {
					t.Errorf("%d-bit %s: %v", mode, r.intel, err)
					continue
				}
				rows, offs = append(rows, r), append(offs, len(all))
				all = append(all, code...)
			}
		}
		got := objdumpInsns(t, objdump, machine[mode], all)
		bad := 0
		for i, r := range rows {
			if i >= len(got) || got[i].off != offs[i] {
				t.Fatalf("%d-bit %s at %#x: objdump's instruction boundaries differ", mode, r.intel, offs[i])
			}
			mn, ops, _ := strings.Cut(got[i].text, " ")
			want := strings.ToLower(r.mn)
			ymm := strings.Contains(r.intel, "ymm") || strings.Contains(r.intel, "y,") // vm32y/vm64y: a ymm index
			ops = strings.ToLower(ops)
			okMn := strings.HasPrefix(mn, want)
			if strings.HasPrefix(want, "vcmp") {
				// objdump names the predicate: vcmpeqpd for VCMPPD, imm 0.
				okMn = strings.HasPrefix(mn, "vcmp") && strings.HasSuffix(mn, want[4:])
			}
			if want == "vpclmulqdq" {
				okMn = strings.HasPrefix(mn, "vpclmul") // vpclmullqlqdq for imm 0
			}
			if !okMn || strings.Contains(ops, "ymm") != ymm {
				if bad++; bad <= 10 {
					t.Errorf("%d-bit %s: probe encoding disassembles as %q", mode, r.intel, got[i].text)
				}
			}
		}
		t.Logf("%d-bit: %d VEX probe encodings agree with objdump", mode, len(rows)-bad)
	}
}

// objdumpInsn is one instruction GNU objdump printed: its offset in the
// input and its Intel-syntax text.
type objdumpInsn struct {
	off  int
	text string
}

// objdumpInsns disassembles code as a raw binary for machine
// (i386:x86-64, i386, i8086).
func objdumpInsns(t *testing.T, objdump, machine string, code []byte) []objdumpInsn {
	f := filepath.Join(t.TempDir(), "code.bin")
	if err := os.WriteFile(f, code, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(objdump, "-D", "-b", "binary", "-m", machine, "-M", "intel", f).Output()
	if err != nil {
		t.Fatal(err)
	}
	var got []objdumpInsn
	for _, line := range strings.Split(string(out), "\n") {
		p := strings.Split(line, "\t")
		if len(p) < 3 || !strings.HasSuffix(strings.TrimSpace(p[0]), ":") {
			continue
		}
		off, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(p[0]), ":"), 16, 64)
		if err != nil {
			continue
		}
		got = append(got, objdumpInsn{int(off), strings.TrimSpace(p[2])})
	}
	return got
}

// TestOtherFeatureUDFrames runs the probe encoding of every other-feature
// row that must #UD in softvmm's model (otherFeatureRule), in each mode,
// and checks the fault as the SDM defines it (Vol. 3A §6.15, interrupt 6:
// a fault, no error code, the saved RIP at the instruction, no state
// changed): the coverage probe only looks at where the vCPU went.
func TestOtherFeatureUDFrames(t *testing.T) {
	probeCPU, _ := newGuest(t, nil)
	for _, mode := range isaModes {
		env := newProbeEnv(t, mode)
		n := 0
		for _, r := range isaRows(t) {
			if r.otherFeature == "" {
				continue
			}
			v := r.validity(mode)
			if v != "V" && v != "I" {
				continue
			}
			if ud, _ := otherFeatureRule(probeCPU, r); !ud && v == "V" {
				continue
			}
			res, what, _ := env.probeRow(r)
			if res != probeUD {
				t.Errorf("%d-bit %s: %s, want #UD", mode, r.intel, what)
				continue
			}
			c, ram := env.c, env.ram
			var ret, sp uint64
			if mode == 64 {
				_, f := frame(c, ram, false)
				ret, sp = f[0], stackTop-40
			} else {
				_, eip, _ := protFrame(c, ram, false)
				ret, sp = uint64(eip), stackTop-12
			}
			if ret != env.at || c.r[rSP]&0xffffffff != sp&0xffffffff {
				t.Errorf("%d-bit %s (%s): saved RIP %#x, SP %#x; want %#x, %#x (no error code)", mode, r.intel, what, ret, c.r[rSP], env.at, sp)
			}
			for _, g := range []int{rAX, rCX, rDX, rBX, rBP, rSI, rDI} {
				want := uint64(dataBase)
				switch g {
				case rCX:
					want = 4
				case rBX:
					want = 0x10
				}
				if c.r[g] != want {
					t.Errorf("%d-bit %s (%s): register %d %#x, want %#x unchanged", mode, r.intel, what, g, c.r[g], want)
				}
			}
			n++
		}
		t.Logf("%d-bit: %d rows #UD as a fault at the instruction", mode, n)
	}
}
