package cpu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"softvmm/emu/abi"
	"softvmm/emu/cpu/internal/hostexec"
)

// The row-driven differential test: for every x86.csv row in scope
// (isarows_test.go) that is valid in 64-bit mode and runs in ring 3, it
// synthesises encodings (register and memory forms, every register
// including REX-only ones, random and edge operands, random flags and DF,
// each REP form of the string rows, both outcomes of the branches) and
// runs each natively (hostexec.ExecFull: all sixteen registers, the stack
// and a data window at the same addresses as in the guest) and in the
// interpreter at CPL 3 in a guest whose page tables map only that window
// and the code page. The interpreter runs first; a case it faults on is
// not run natively (so a wild address or #DE cannot crash the test), and
// each #DE of DIV/IDIV is checked against math/big instead. Registers,
// RFLAGS (arithmetic flags and DF, less the undefined ones of
// undefinedFlags) and the whole window must agree. Every case starts at
// CPL 3 with IF set, as a Linux process runs.

// rowNotNative are in-scope 64-bit rows the harness does not run on the
// host, with the reason: ring-0 or I/O instructions (#GP at CPL 3),
// instructions whose answer is the machine's and not the ISA's (CPUID,
// time stamps, descriptor-table registers), segment loads (Go's TLS lives
// in FS), far transfers, and software interrupts. Guest tests cover these.
var rowNotNative = map[string]string{}

func init() {
	for _, m := range strings.Fields(`HLT CLI STI IN OUT INSB INSW INSD OUTSB OUTSW OUTSD RDMSR WRMSR
		LGDT LIDT LLDT LTR LMSW CLTS INVD WBINVD INVLPG SWAPGS SYSRET SYSEXIT RSM MONITOR MWAIT`) {
		rowNotNative[m] = "privileged or I/O"
	}
	for _, m := range strings.Fields(`CPUID RDTSC RDTSCP RDPMC SGDT SIDT SLDT STR SMSW LAR LSL VERR VERW`) {
		rowNotNative[m] = "machine-dependent answer"
	}
	for _, m := range strings.Fields(`LFS LGS LSS LCALL LJMP LRET IRET IRETD IRETQ SYSCALL SYSENTER`) {
		rowNotNative[m] = "segment load or far transfer"
	}
	for _, m := range strings.Fields(`INT INT3 INTO ICEBP UD0 UD1 UD2`) {
		rowNotNative[m] = "software interrupt or #UD by definition"
	}
}

func nativeReason(r *isaRow) string {
	if why := rowNotNative[r.mn]; why != "" {
		return why
	}
	for _, a := range r.args {
		switch {
		case a == "Sreg" || a == "FS" || a == "GS" || strings.HasPrefix(a, "CR") || strings.HasPrefix(a, "DR") || strings.HasPrefix(a, "TR"):
			return "segment, control or debug register"
		case strings.HasPrefix(a, "m16:") || strings.HasPrefix(a, "ptr16:"):
			return "far pointer"
		}
	}
	return ""
}

// undefinedFlags are the flags the manuals leave undefined for one case
// of a row, and the registers whose result is undefined. Each entry cites
// the "Flags Affected" section of the instruction in the Intel SDM Vol. 2;
// where AMD's APM Vol. 3 leaves more undefined (this project's hosts are
// AMD EPYC), the union is masked.
func undefinedFlags(mn string, k *rowCaseInfo) (flags uint64, regs []int) {
	w := uint64(k.width)
	cm := uint64(31)
	if w == 64 {
		cm = 63
	}
	n := k.count & cm
	switch mn {
	case "AND", "OR", "XOR", "TEST": // SDM AND/OR/XOR/TEST: AF undefined
		return flagAF, nil
	case "MUL", "IMUL": // SDM MUL, IMUL: SF ZF AF PF undefined
		return flagSF | flagZF | flagAF | flagPF, nil
	case "DIV", "IDIV": // SDM DIV, IDIV: CF OF SF ZF AF PF undefined
		return arithFlags, nil
	case "SHL", "SAL", "SHR", "SAR": // SDM SAL/SAR/SHL/SHR "Flags Affected"
		if n == 0 {
			return 0, nil
		}
		f := uint64(flagAF)
		if n != 1 {
			f |= flagOF
		}
		if mn != "SAR" && n >= w {
			f |= flagCF | flagOF
		}
		return f, nil
	case "ROL", "ROR", "RCL", "RCR": // SDM RCL/RCR/ROL/ROR: OF only for 1-bit rotates
		if n == 0 {
			return 0, nil
		}
		if n != 1 {
			return flagOF, nil
		}
		return 0, nil
	case "SHLD", "SHRD": // SDM SHLD/SHRD: AF undefined; OF if count != 1; all and dest if count > size
		if n == 0 {
			return 0, nil
		}
		f := uint64(flagAF)
		if n != 1 {
			f |= flagOF
		}
		if n > w {
			return arithFlags, []int{k.dest}
		}
		return f, nil
	case "BT", "BTS", "BTR", "BTC": // SDM BT: OF SF AF PF undefined; APM BT: ZF too
		return flagOF | flagSF | flagAF | flagPF | flagZF, nil
	case "BSF", "BSR": // SDM BSF/BSR: CF OF SF AF PF undefined; dest undefined for a zero source (APM: unchanged)
		if k.src&sizeMask[k.width/8] == 0 {
			return flagCF | flagOF | flagSF | flagAF | flagPF, []int{k.dest}
		}
		return flagCF | flagOF | flagSF | flagAF | flagPF, nil
	}
	return 0, nil
}

// rowCaseInfo is what undefinedFlags needs to know about a case.
type rowCaseInfo struct {
	width uint8  // operand width in bits
	count uint64 // shift/rotate count (before masking)
	src   uint64 // BSF/BSR source value
	dest  int    // destination register, or destMem for the memory operand
}

// destMem as an undefined "register" means the memory operand's result.
const destMem = -1

// diffGuest is the interpreter side of the harness.
type diffGuest struct {
	c     *CPU
	ram   *testRAM
	image []byte // the code page as both sides see it
	save  CPU    // the CPL 3 state every case starts from
}

const (
	dgGDT     = hostexec.CodePage + 0xc00
	dgIDT     = hostexec.CodePage + 0x800
	dgHandler = hostexec.CodePage + 0x400
	dgTSS     = hostexec.CodePage + 0xe00
	dgRSP0    = hostexec.WindowBase + hostexec.WindowSize - 0x100
	dgData    = hostexec.WindowBase + 0x10000 // memory operands around here
	dgStack   = hostexec.WindowBase + 0x30000 // RSP around here
)

func newDiffGuest(t testing.TB) *diffGuest {
	ram := &testRAM{b: make([]byte, ramSize), holes: map[uint64]bool{}}
	ram.w64(0x2000, 0x3000|7)
	ram.w64(0x3000, 0x4000|7)
	ram.w64(0x4000, 0x8000|7)
	for p := uint64(hostexec.WindowBase); p <= hostexec.CodePage; p += pageSz {
		ram.w64(0x8000+(p>>12)*8, p|7)
	}
	gdt := []uint64{0, 0x0020980000000000, 0x0000920000000000, 0x0020f80000000000, 0x0000f20000000000}
	for i, d := range gdt {
		ram.w64(dgGDT+uint64(i)*8, d)
	}
	for v := uint64(0); v < 32; v++ {
		h := dgHandler + v*16
		ram.w64(dgIDT+v*16, h&0xffff|8<<16|uint64(0x8e)<<40|(h>>16&0xffff)<<48)
		ram.w64(dgIDT+v*16+8, h>>32)
		ram.b[h] = 0xf4
	}
	ram.w64(dgTSS+4, dgRSP0)
	c := New(ram, 0)
	for _, rv := range []struct {
		r int32
		v uint64
	}{
		{abi.VM_REG_GUEST_CR0, 0x80010033}, {abi.VM_REG_GUEST_CR4, 0x20},
		{abi.VM_REG_GUEST_EFER, 0x501}, {abi.VM_REG_GUEST_CR3, 0x2000},
		{abi.VM_REG_GUEST_CS, 0x1b}, {abi.VM_REG_GUEST_SS, 0x23}, {abi.VM_REG_GUEST_DS, 0x23},
		{abi.VM_REG_GUEST_ES, 0x23}, {abi.VM_REG_GUEST_FS, 0}, {abi.VM_REG_GUEST_GS, 0}, {abi.VM_REG_GUEST_TR, 0x28},
	} {
		if err := c.SetReg(rv.r, rv.v); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []struct {
		r int32
		d abi.SegDesc
	}{
		{abi.VM_REG_GUEST_CS, abi.SegDesc{Access: 0x20fb}}, {abi.VM_REG_GUEST_SS, abi.SegDesc{Access: 0xf3}},
		{abi.VM_REG_GUEST_DS, abi.SegDesc{Access: 0xf3}}, {abi.VM_REG_GUEST_ES, abi.SegDesc{Access: 0xf3}},
		{abi.VM_REG_GUEST_FS, abi.SegDesc{Access: 0x10000}}, {abi.VM_REG_GUEST_GS, abi.SegDesc{Access: 0x10000}},
		{abi.VM_REG_GUEST_TR, abi.SegDesc{Base: dgTSS, Limit: 0x67, Access: 0x8b}},
		{abi.VM_REG_GUEST_LDTR, abi.SegDesc{Access: 0x10000}},
		{abi.VM_REG_GUEST_GDTR, abi.SegDesc{Base: dgGDT, Limit: uint32(len(gdt)*8 - 1)}},
		{abi.VM_REG_GUEST_IDTR, abi.SegDesc{Base: dgIDT, Limit: 32*16 - 1}},
	} {
		if err := c.SetDesc(d.r, d.d); err != nil {
			t.Fatal(err)
		}
	}
	img := make([]byte, 4096)
	copy(img, ram.b[hostexec.CodePage:])
	return &diffGuest{c: c, ram: ram, image: img, save: *c}
}

// rowCase is one generated case of a row.
type rowCase struct {
	code []byte
	st   hostexec.FullState
	mem  []byte // window contents before
	info rowCaseInfo
}

// outcome of running a case in the interpreter.
const (
	outDone = iota
	outFault
	outUD
	outError
)

// runGuest runs k in the interpreter and reports how it ended; for
// outDone the guest registers, flags and window are left in g.
func (g *diffGuest) run(k *rowCase) (int, string) {
	c := g.c
	// A fault in the previous case left the vCPU in its ring-0 handler.
	*c = g.save
	c.FlushCaches()
	copy(g.ram.b[hostexec.WindowBase:], k.mem)
	copy(g.ram.b[hostexec.CodePage:], g.image)
	copy(g.ram.b[hostexec.CodeAddr:], k.code)
	g.ram.b[hostexec.CodeAddr+uint64(len(k.code))] = 0xf4
	c.r = k.st.Regs
	c.setRflags(k.st.Flags&hostexec.FlagsIn | flagIF | 2)
	c.rip = hostexec.CodeAddr
	tail := uint64(hostexec.CodeAddr + len(k.code))
	for i := 0; i < 4; i++ {
		ex := c.Run(1)
		switch ex.Reason {
		case ExitBudget:
			if c.rip == tail {
				return outDone, ""
			}
			if c.rip > hostexec.CodeAddr && c.rip < tail {
				continue
			}
			return outError, fmt.Sprintf("control left the code: rip %#x", c.rip)
		case ExitHLT:
			if ex.RIP >= dgHandler && ex.RIP < dgHandler+32*16 {
				v := (ex.RIP - dgHandler) / 16
				if v == vecUD {
					return outUD, "#UD"
				}
				return outFault, fmt.Sprintf("vector %d", v)
			}
			return outError, fmt.Sprintf("HLT at %#x", ex.RIP)
		case ExitTripleFault:
			return outFault, "triple fault"
		default:
			return outError, fmt.Sprintf("exit %v: %v", ex.Reason, ex.Err)
		}
	}
	return outError, "did not reach the end of the code"
}

// rowGen generates cases of one row.
type rowGen struct {
	r     *isaRow
	rng   *rand.Rand
	width uint8 // operand width in bits (from the first sized operand)
	buf   []byte
}

func rowWidth(r *isaRow) uint8 {
	for _, a := range r.args {
		for _, w := range []string{"64", "32", "16", "8"} {
			if strings.HasSuffix(a, w) && (strings.HasPrefix(a, "r") || strings.HasPrefix(a, "m") || strings.HasPrefix(a, "imm")) {
				var n uint8
				fmt.Sscan(w, &n)
				return n
			}
		}
		switch a {
		case "AL", "CL":
			return 8
		case "AX":
			return 16
		case "EAX":
			return 32
		case "RAX":
			return 64
		}
	}
	switch {
	case strings.HasSuffix(r.mn, "B"):
		return 8
	case strings.HasSuffix(r.mn, "W"):
		return 16
	case strings.HasSuffix(r.mn, "D"):
		return 32
	case strings.HasSuffix(r.mn, "Q"):
		return 64
	}
	return 64
}

func (g *rowGen) val() uint64 {
	switch g.rng.IntN(4) {
	case 0, 1:
		return edges[g.rng.IntN(len(edges))]
	case 2:
		return g.rng.Uint64()
	}
	return g.rng.Uint64() >> g.rng.IntN(64)
}

var stringRows = map[string]bool{}

// lockableRows may take LOCK with a memory destination (SDM LOCK).
var lockableRows = map[string]bool{}

func init() {
	for _, m := range strings.Fields("ADD ADC AND BTC BTR BTS CMPXCHG CMPXCHG8B CMPXCHG16B DEC INC NEG NOT OR SBB SUB XOR XADD XCHG") {
		lockableRows[m] = true
	}
}

func init() {
	for _, p := range []string{"MOVS", "CMPS", "STOS", "LODS", "SCAS"} {
		for _, s := range []string{"B", "W", "D", "Q"} {
			stringRows[p+s] = true
		}
	}
}

// gen makes one case; ok is false when the row cannot be encoded so.
func (g *rowGen) gen() (*rowCase, error) {
	r, rng := g.r, g.rng
	// The window buffer is reused: every byte gen may set lies in the
	// spans it rewrites below, and callers copy it before running.
	if g.buf == nil {
		g.buf = make([]byte, hostexec.WindowSize)
	}
	k := &rowCase{mem: g.buf}
	// Random data where operands and the stack point, zeros elsewhere.
	for _, span := range [][2]int{{0xc000, 0x1a000}, {0x2e000, 0x32000}} {
		for i := span[0]; i < span[1]; i += 8 {
			binary.LittleEndian.PutUint64(k.mem[i:], rng.Uint64())
		}
	}
	st := &k.st
	for i := range st.Regs {
		st.Regs[i] = g.val()
	}
	st.Regs[rSP] = dgStack + uint64(rng.IntN(64))*8
	st.Flags = rng.Uint64() & (arithFlags | flagDF)
	o := encOpts{index: noReg, reg: uint8(rng.IntN(16)), rm: uint8(rng.IntN(16)), opreg: uint8(rng.IntN(16))}
	o.imm[0], o.imm[1] = g.val(), g.val()
	if g.width == 8 && rng.IntN(2) == 0 {
		o.rex = 0x40 // SPL..DIL instead of AH..BH
	}
	o.mem = r.allowsMem() && (!r.allowsReg() || rng.IntN(2) == 0)
	for i, a := range r.args {
		switch {
		case a == "Sreg" && i == 0:
			o.reg = []uint8{0, 2, 3, 4, 5}[rng.IntN(5)] // not CS
		case a == "Sreg":
			o.reg = uint8(rng.IntN(6))
		case strings.HasPrefix(a, "CR"):
			o.reg = []uint8{0, 2, 3, 4, 8}[rng.IntN(5)]
		case strings.HasPrefix(a, "DR"):
			o.reg = uint8(rng.IntN(8))
		}
	}
	var ea uint64
	if o.mem {
		o.base = uint8(rng.IntN(16))
		if o.base == rSP {
			st.Regs[rSP] = dgData + uint64(rng.IntN(0x1000))
		}
		base := dgData + uint64(rng.IntN(0x2000))
		if r.mn == "CMPXCHG16B" {
			base &^= 15
		}
		st.Regs[o.base] = base
		ea = base
		switch rng.IntN(3) {
		case 0:
			o.dispLen = 0
		case 1:
			o.dispLen, o.disp = 1, int32(int8(rng.Uint32()))
		default:
			o.dispLen, o.disp = 4, int32(rng.IntN(0x4000))-0x2000
		}
		if r.mn == "CMPXCHG16B" {
			o.disp &^= 15
		}
		if o.base&7 == 5 && o.dispLen == 0 {
			o.dispLen = 1
		}
		ea += uint64(int64(o.disp))
		if rng.IntN(6) == 0 {
			// [RIP+disp32]: the displacement is fixed up once the
			// length is known (below).
			o.ripRel = true
			ea = dgData + uint64(rng.IntN(0x2000))
			if r.mn == "CMPXCHG16B" {
				ea &^= 15
			}
		}
		if !o.ripRel && rng.IntN(3) == 0 {
			idx := uint8(rng.IntN(16))
			if idx != rSP && idx != o.base {
				o.index, o.scale = idx, uint8(rng.IntN(4))
				iv := uint64(rng.IntN(0x200))
				if r.mn == "CMPXCHG16B" {
					iv = 0
				}
				st.Regs[idx] = iv
				ea += iv << o.scale
			}
		}
	}
	if o.mem && len(r.args) > 0 && (strings.HasPrefix(r.args[0], "r/m") || strings.HasPrefix(r.args[0], "m")) &&
		lockableRows[r.mn] && rng.IntN(4) == 0 {
		o.prefixes = append(o.prefixes, 0xf0)
	}
	if (o.mem || stringRows[r.mn]) && rng.IntN(6) == 0 {
		// ES/CS/SS/DS overrides are ignored in 64-bit mode (SDM Vol. 1
		// 3.3.7.1). FS and GS are not generated: the host's FS base is
		// Go's TLS.
		o.prefixes = append(o.prefixes, []byte{0x26, 0x2e, 0x36, 0x3e}[rng.IntN(4)])
	}
	if o.mem && rng.IntN(5) == 0 {
		// 32-bit addressing: the upper halves of base and index must not
		// matter (SDM Vol. 1 3.3.7).
		o.prefixes = append(o.prefixes, 0x67)
		st.Regs[o.base] |= rng.Uint64() << 32
		if o.index != noReg {
			st.Regs[o.index] |= rng.Uint64() << 32
		}
	}
	// The destination whose result may be undefined: the ModRM reg
	// field for BSF/BSR, the r/m operand for SHLD/SHRD.
	k.info = rowCaseInfo{width: g.width, dest: int(o.reg)}
	if r.mn == "SHLD" || r.mn == "SHRD" {
		k.info.dest = int(o.rm)
		if o.mem {
			k.info.dest = destMem
		}
	}
	if (r.mn == "CALL" || r.mn == "JMP") && o.rm == rSP {
		o.rm = rBX
	}
	isRel := false
	for _, a := range r.args {
		if strings.HasPrefix(a, "rel") {
			isRel = true
		}
	}
	switch {
	case stringRows[r.mn]:
		si, di := dgData+uint64(rng.IntN(0x1000)), dgData+0x8000+uint64(rng.IntN(0x1000))
		st.Regs[rSI], st.Regs[rDI] = si, di
		if rng.IntN(3) > 0 {
			switch {
			case strings.HasPrefix(r.mn, "CMPS") || strings.HasPrefix(r.mn, "SCAS"):
				o.prefixes = append(o.prefixes, []byte{0xf3, 0xf2}[rng.IntN(2)])
				if rng.IntN(2) == 0 {
					copy(k.mem[di-hostexec.WindowBase:], k.mem[si-hostexec.WindowBase:si-hostexec.WindowBase+uint64(rng.IntN(64))])
				}
			default:
				o.prefixes = append(o.prefixes, 0xf3)
			}
			st.Regs[rCX] = uint64(rng.IntN(24))
			if rng.IntN(4) == 0 {
				st.Regs[rCX] |= uint64(rng.IntN(4)) << 32 // ignored with 67
			}
		}
		if rng.IntN(4) == 0 {
			o.prefixes = append(o.prefixes, 0x67)
			st.Regs[rSI] |= rng.Uint64() << 32
			st.Regs[rDI] |= rng.Uint64() << 32
			if st.Regs[rCX]>>32 != 0 && st.Regs[rCX]&0xffffffff > 24 {
				st.Regs[rCX] &= 0xff
			}
		} else if st.Regs[rCX] > 24 && len(o.prefixes) > 0 {
			st.Regs[rCX] &= 0xf
		}
	case r.mn == "XLATB":
		st.Regs[rBX] = dgData + uint64(rng.IntN(0x1000))
	case r.mn == "BT" || r.mn == "BTS" || r.mn == "BTR" || r.mn == "BTC":
		if o.mem && strings.Contains(r.intel, ", r") {
			off := uint64(int64(rng.IntN(0x4000)) - 0x2000)
			if g.width == 16 {
				off = uint64(int64(int16(off)))
			}
			st.Regs[o.reg] = off
			if o.reg == o.base || o.reg == o.index {
				return nil, errSkip
			}
		}
	case r.mn == "ENTER":
		o.imm[0] = uint64(rng.IntN(0x400))
		o.imm[1] = uint64(rng.IntN(3))
		if rng.IntN(4) == 0 {
			o.imm[1] = uint64(rng.IntN(64))
		}
		st.Regs[rBP] = st.Regs[rSP] + uint64(rng.IntN(0x100))*8
	case r.mn == "LEAVE":
		st.Regs[rBP] = st.Regs[rSP] + uint64(rng.IntN(0x100))*8
	case r.mn == "POPF" || r.mn == "POPFQ" || r.mn == "POPFD":
		sp := st.Regs[rSP] - hostexec.WindowBase
		v := binary.LittleEndian.Uint64(k.mem[sp:]) &^ (flagTF | flagAC)
		binary.LittleEndian.PutUint64(k.mem[sp:], v)
	case r.mn == "MOV" && strings.Contains(r.intel, "moffs"):
		o.imm[0] = dgData + uint64(rng.IntN(0x1000))
	case r.mn == "CMPXCHG8B" || r.mn == "CMPXCHG16B" || r.mn == "CMPXCHG":
		if rng.IntN(2) == 0 && o.mem {
			n := uint64(g.width / 8)
			if r.mn == "CMPXCHG8B" {
				n = 8
			}
			if r.mn == "CMPXCHG16B" {
				n = 16
			}
			var b [16]byte
			binary.LittleEndian.PutUint64(b[:], st.Regs[rAX])
			binary.LittleEndian.PutUint64(b[8:], st.Regs[rDX])
			if r.mn == "CMPXCHG8B" {
				binary.LittleEndian.PutUint32(b[4:], uint32(st.Regs[rDX]))
			}
			copy(k.mem[ea-hostexec.WindowBase:], b[:n])
		} else if rng.IntN(2) == 0 && !o.mem {
			st.Regs[rAX] = st.Regs[o.rm]
		}
	case r.mn == "LOOP" || r.mn == "LOOPE" || r.mn == "LOOPNE" || r.mn == "JRCXZ" || r.mn == "JECXZ":
		st.Regs[rCX] = []uint64{0, 1, 2, 0x100000000, 0x100000001, g.val()}[rng.IntN(6)]
	}
	// Shift/rotate counts.
	if strings.Contains(r.intel, ", CL") {
		k.info.count = st.Regs[rCX] & 0xff
	} else if strings.HasSuffix(r.intel, ", 1") {
		k.info.count = 1
	} else if strings.Contains(r.intel, ", imm8") {
		k.info.count = o.imm[0] & 0xff
	}
	if r.mn == "DIV" || r.mn == "IDIV" {
		// Half the cases get a dividend whose quotient can fit (RDX or
		// AH the zero/sign extension of RAX or AL).
		addrReg := o.mem && !o.ripRel && (o.base == rAX || o.base == rDX || o.index == rAX || o.index == rDX)
		if rng.IntN(2) == 0 && !addrReg { // RAX/RDX holding the address stay as they are
			if g.width == 8 {
				st.Regs[rAX] = st.Regs[rAX]&^0xff00 | uint64(int64(int8(st.Regs[rAX]))>>8&0xff)<<8
				if r.mn == "DIV" {
					st.Regs[rAX] &^= 0xff00
				}
			} else if r.mn == "DIV" {
				st.Regs[rDX] = 0
			} else {
				st.Regs[rDX] = uint64(int64(st.Regs[rAX]<<(64-g.width)) >> 63)
			}
		}
		if o.mem {
			k.info.src = binary.LittleEndian.Uint64(k.mem[ea-hostexec.WindowBase:])
		} else {
			k.info.src = st.Regs[o.rm]
			if g.width == 8 && o.rex == 0 && o.rm >= 4 && o.rm < 8 {
				k.info.src = st.Regs[o.rm-4] >> 8 // AH..BH
			}
		}
	}
	if r.mn == "BSF" || r.mn == "BSR" {
		if rng.IntN(4) == 0 {
			if o.mem {
				copy(k.mem[ea-hostexec.WindowBase:], make([]byte, 8))
			} else {
				st.Regs[o.rm] = 0
			}
		}
		if o.mem {
			k.info.src = binary.LittleEndian.Uint64(k.mem[ea-hostexec.WindowBase:])
		} else {
			k.info.src = st.Regs[o.rm]
		}
	}
	// Branches: relative ones skip a 4-byte marker (lea r11, [r11+1],
	// which leaves the flags alone) when taken; indirect ones and RET
	// land on the byte after the code.
	marker := []byte{0x4d, 0x8d, 0x5b, 0x01}
	if isRel {
		o.imm[0] = uint64(len(marker))
		code, err := r.encode(64, o)
		if err != nil {
			return nil, err
		}
		k.code = append(code, marker...)
		return k, nil
	}
	code, err := r.encode(64, o)
	if err != nil {
		return nil, err
	}
	if o.ripRel {
		o.disp = int32(int64(ea) - int64(hostexec.CodeAddr+len(code)))
		if code, err = r.encode(64, o); err != nil {
			return nil, err
		}
	}
	k.code = code
	tail := uint64(hostexec.CodeAddr + len(code))
	switch r.mn {
	case "CALL", "JMP":
		if o.mem {
			binary.LittleEndian.PutUint64(k.mem[ea-hostexec.WindowBase:], tail)
		} else {
			st.Regs[o.rm] = tail
		}
	case "RET":
		binary.LittleEndian.PutUint64(k.mem[st.Regs[rSP]-hostexec.WindowBase:], tail)
		if strings.Contains(r.intel, "imm16") {
			return nil, errSkip // handled below with a small immediate
		}
	}
	return k, nil
}

var errSkip = fmt.Errorf("skip")

// rowDiffResult is what one row's run found.
type rowDiffResult struct {
	compared, faulted int
	mismatch          int
	gap               string // not implemented: #UD or emulator error on a valid encoding
}

// runRowDiff runs n cases of every 64-bit native row and returns the
// results by row index. Mismatches are test errors.
func runRowDiff(t *testing.T, n int) map[int]*rowDiffResult {
	res := map[int]*rowDiffResult{}
	g := newDiffGuest(t)
	probe := hostexec.FullState{}
	if err := hostexec.ExecFull([]byte{0x90}, &probe, make([]byte, hostexec.WindowSize), g.image); err != nil {
		t.Skip(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	var mem []byte
	legacy := []*legacyRowGuest{newLegacyRowGuest(t, 32), newLegacyRowGuest(t, 16)}
	for _, r := range isaRows(t) {
		if r.excluded != "" || r.valid64 != "V" || nativeReason(r) != "" {
			continue
		}
		if ok, _ := g.c.advertised(r, 64); !ok {
			continue
		}
		rr := &rowDiffResult{}
		res[r.idx] = rr
		gen := &rowGen{r: r, rng: rng, width: rowWidth(r)}
		for i := 0; i < n && rr.gap == "" && rr.mismatch < 3; i++ {
			k, err := gen.gen()
			if err == errSkip {
				if r.mn == "RET" {
					k, err = retImmCase(gen)
				} else {
					continue
				}
			}
			if err != nil {
				t.Errorf("%s: %v", r.intel, err)
				break
			}
			how, what := g.run(k)
			switch how {
			case outUD:
				rr.gap = fmt.Sprintf("#UD for % x", k.code)
				continue
			case outError:
				rr.gap = fmt.Sprintf("%s for % x", what, k.code)
				continue
			case outFault:
				rr.faulted++
				if r.mn == "DIV" || r.mn == "IDIV" {
					// #DE exactly when math/big says the quotient does
					// not fit or the divisor is 0 (SDM DIV, IDIV).
					in := hostexec.State{}
					in.Regs[rAX], in.Regs[rDX], in.Regs[rBX] = k.st.Regs[rAX], k.st.Regs[rDX], k.info.src
					_, ok := bigDiv(&in, gen.width/8, r.mn == "IDIV")
					if gotDE := what == "vector 0"; gotDE == ok {
						rr.mismatch++
						t.Errorf("%s (% x): %s, math/big says the quotient fits: %v\n  in   %s", r.intel, k.code, what, ok, fmtFull(&k.st))
					}
				}
				continue
			}
			if r.mn == "DIV" || r.mn == "IDIV" {
				// The interpreter did not fault: math/big must agree
				// before the host runs it, or the host's #DE would kill
				// the test binary instead of failing the row.
				in := hostexec.State{}
				in.Regs[rAX], in.Regs[rDX], in.Regs[rBX] = k.st.Regs[rAX], k.st.Regs[rDX], k.info.src
				if _, ok := bigDiv(&in, gen.width/8, r.mn == "IDIV"); !ok {
					rr.mismatch++
					t.Errorf("%s (% x): no #DE, but math/big says the quotient does not fit\n  in   %s", r.intel, k.code, fmtFull(&k.st))
					continue
				}
			}
			nat := k.st
			mem = append(mem[:0], k.mem...)
			if err := hostexec.ExecFull(k.code, &nat, mem, g.image); err != nil {
				t.Fatal(err)
			}
			rr.compared++
			if d := g.compare(r, k, &nat, mem); d != "" {
				rr.mismatch++
				t.Errorf("%s (% x): %s\n  in   %s", r.intel, k.code, d, fmtFull(&k.st))
				continue
			}
			for _, lg := range legacy {
				if d := lg.run(r, k, &nat); d != "" {
					rr.mismatch++
					t.Errorf("%d-bit %s: %s\n  in   %s", lg.mode, r.intel, d, fmtFull(&k.st))
				}
			}
		}
	}
	return res
}

// legacyRowGuest reruns a compared 64-bit case in 32-bit or 16-bit
// protected mode when it is a register-only form without REX (no memory,
// stack or control transfer): an operation at a given operand size
// computes the same there, so the host's 64-bit result is the oracle for
// the low 32 bits of each register and the flags. legacyCode re-encodes
// it (66 toggled in 16-bit code); a clean comparison marks the legacy
// encoding's row verified for the ISA coverage report.
type legacyRowGuest struct {
	mode int
	c    *CPU
	ram  *testRAM
	at   uint64
	save CPU
}

func newLegacyRowGuest(t *testing.T, mode int) *legacyRowGuest {
	c, ram, at := branchGuest(t, mode)
	return &legacyRowGuest{mode: mode, c: c, ram: ram, at: at, save: *c}
}

// legacyUnfit are register-form mnemonics whose meaning depends on the
// mode or on state the legacy guests do not share with the host run.
var legacyUnfit = map[string]bool{"PUSH": true, "POP": true, "PUSHF": true, "POPF": true, "PUSHFQ": true, "POPFQ": true,
	"CALL": true, "RET": true, "JMP": true, "ENTER": true, "LEAVE": true, "LEA": true, "XLATB": true, "CDQE": true, "CQO": true,
	"MOVSXD": true} // 63 /r is ARPL outside 64-bit mode

func (lg *legacyRowGuest) run(r *isaRow, k *rowCase, nat *hostexec.FullState) string {
	if legacyUnfit[r.mn] || stringRows[r.mn] || strings.HasPrefix(r.mn, "J") || strings.HasPrefix(r.mn, "LOOP") {
		return ""
	}
	inst, err := x86asm.Decode(k.code, 64)
	if err != nil || inst.PCRel != 0 {
		return ""
	}
	for _, b := range k.code {
		if b&0xf0 == 0x40 {
			return "" // REX (after any legacy prefixes): 64-bit only
		}
		if b != 0x66 && b != 0x67 && b != 0xf2 && b != 0xf3 && b != 0xf0 {
			break
		}
	}
	for _, a := range inst.Args {
		if _, ok := a.(x86asm.Mem); ok {
			return ""
		}
	}
	code, ok := legacyCode(k.code, lg.mode)
	if !ok {
		return ""
	}
	c := lg.c
	*c = lg.save
	c.FlushCaches()
	copy(lg.ram.b[lg.at:], append(append([]byte(nil), code...), 0xf4))
	c.r = k.st.Regs
	c.setRflags(k.st.Flags&(arithFlags|flagDF) | 2)
	c.rip = lg.at
	ex := c.Run(10)
	if ex.Reason != ExitHLT || ex.RIP != lg.at+uint64(len(code)) {
		return fmt.Sprintf("% x: exit %v at %#x (err %v)", code, ex.Reason, ex.RIP, ex.Err)
	}
	uf, ur := undefinedFlags(r.mn, &k.info)
	skip := map[int]bool{}
	for _, x := range ur {
		skip[x] = true
	}
	var diffs []string
	for i := 0; i < 8; i++ {
		if !skip[i] && uint32(c.r[i]) != uint32(nat.Regs[i]) {
			diffs = append(diffs, fmt.Sprintf("r%d host %#x interp %#x", i, uint32(nat.Regs[i]), uint32(c.r[i])))
		}
	}
	mask := uint64(arithFlags|flagDF) &^ uf
	if (c.rflags()^nat.Flags)&mask != 0 {
		diffs = append(diffs, fmt.Sprintf("flags host %#x interp %#x (compared %#x)", nat.Flags&mask, c.rflags()&mask, mask))
	}
	if len(diffs) > 0 {
		return fmt.Sprintf("% x: %s", code, strings.Join(diffs, "; "))
	}
	markVerifiedCode(lg.mode, code)
	return ""
}

func retImmCase(g *rowGen) (*rowCase, error) {
	k := &rowCase{mem: make([]byte, hostexec.WindowSize)}
	for i := range k.st.Regs {
		k.st.Regs[i] = g.val()
	}
	k.st.Regs[rSP] = dgStack + uint64(g.rng.IntN(64))*8
	k.st.Flags = g.rng.Uint64() & (arithFlags | flagDF)
	imm := uint64(g.rng.IntN(0x100))
	code, err := g.r.encode(64, encOpts{index: noReg, imm: [2]uint64{imm, 0}})
	if err != nil {
		return nil, err
	}
	k.code = code
	binary.LittleEndian.PutUint64(k.mem[k.st.Regs[rSP]-hostexec.WindowBase:], uint64(hostexec.CodeAddr+len(code)))
	return k, nil
}

// compare reports the first difference between the interpreter's state
// in g and the host's, or "".
func (g *diffGuest) compare(r *isaRow, k *rowCase, nat *hostexec.FullState, mem []byte) string {
	c := g.c
	uf, ur := undefinedFlags(r.mn, &k.info)
	skip := map[int]bool{}
	for _, x := range ur {
		skip[x] = true
	}
	var diffs []string
	for i := 0; i < 16; i++ {
		if !skip[i] && c.r[i] != nat.Regs[i] {
			diffs = append(diffs, fmt.Sprintf("r%d host %#x interp %#x", i, nat.Regs[i], c.r[i]))
		}
	}
	mask := uint64(arithFlags|flagDF) &^ uf
	if (c.rflags()^nat.Flags)&mask != 0 {
		diffs = append(diffs, fmt.Sprintf("flags host %#x interp %#x (compared %#x)", nat.Flags&mask, c.rflags()&mask, mask))
	}
	gm := g.ram.b[hostexec.WindowBase : hostexec.WindowBase+hostexec.WindowSize]
	if !skip[destMem] && !bytes.Equal(gm, mem) {
		for i := range mem {
			if gm[i] != mem[i] {
				diffs = append(diffs, fmt.Sprintf("memory at %#x: host % x interp % x", hostexec.WindowBase+i, mem[i:min(i+8, len(mem))], gm[i:min(i+8, len(gm))]))
				break
			}
		}
	}
	return strings.Join(diffs, "; ")
}

func fmtFull(s *hostexec.FullState) string {
	var b strings.Builder
	for i, v := range s.Regs {
		fmt.Fprintf(&b, "r%d=%#x ", i, v)
	}
	fmt.Fprintf(&b, "fl=%#x", s.Flags)
	return b.String()
}

// TestISARows is the row-driven differential test (bounded under -short).
func TestISARows(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	// Kept small: go test runs packages in parallel and emu/vmm's
	// realtime-clock tests need the CPU; `make isa-coverage` runs more.
	n := 24
	if testing.Short() {
		n = 8
	}
	res := runRowDiff(t, n)
	rows := isaRows(t)
	var gaps []string
	compared := 0
	for _, r := range rows {
		if rr := res[r.idx]; rr != nil {
			compared += rr.compared
			if rr.gap != "" {
				gaps = append(gaps, r.intel+": "+rr.gap)
			}
		}
	}
	t.Logf("%d rows, %d cases compared with the host", len(res), compared)
	for _, gp := range gaps {
		t.Errorf("not implemented: %s", gp)
	}
}
