package cpu

import (
	"math/bits"

	"golang.org/x/arch/x86/x86asm"
)

// General-purpose rows the first slice of the interpreter left out, found
// by the x86.csv-driven coverage report (isacov_test.go) and checked
// against the host by the row-driven differential test (isadiff_test.go).
// build calls buildISA for any op its own switch does not know.

func (c *CPU) buildISA(in *insn, inst *x86asm.Inst, va uint64) {
	switch inst.Op {
	case x86asm.POPCNT, x86asm.LZCNT:
		if inst.Op == x86asm.LZCNT {
			in.op = 1
		}
		in.h = pick(operands(in, inst, va), map[int]handler{fRR: hPopcnt, fRM: hPopcnt})
	case x86asm.MOVBE:
		// 0F 38 F0/F1 is MOVBE without F2/F3 and CRC32 with F2 as the
		// last of them (SDM Vol. 2 Table A-4); x86asm decodes the F3
		// forms (F3 last, or F2 before F3) as MOVBE with a REP prefix,
		// which the opcode map leaves undefined: #UD, as the host does.
		if hasPrefix(inst, x86asm.PrefixREP) || hasPrefix(inst, x86asm.PrefixREPN) {
			return
		}
		f := operands(in, inst, va)
		if f == fMR {
			in.op = 1 // store
		}
		in.h = pick(f, map[int]handler{fRM: hMovbe, fMR: hMovbe})
	case x86asm.CLFLUSH:
		// A no-op (no cache is modelled) that still checks its operand
		// the way a load would (SDM CLFLUSH: #PF, #GP for a bad address).
		m, ok := inst.Args[0].(x86asm.Mem)
		if !ok {
			return
		}
		setMem(in, inst, m, va)
		in.sz = 1
		in.h = hClflush
	case x86asm.RDRAND:
		// RDSEED (0F C7 /7) is not advertised: x86asm does not decode it,
		// so it stays #UD.
		if inst.Args[0] == nil {
			// x86asm drops the operand of REX.W RDRAND; read it from
			// the bytes.
			b, _ := c.peek(va)
			r, ok := rexRMReg(b)
			if !ok {
				return
			}
			in.d, in.sz = r, 8
			in.h = hRdrand
			return
		}
		in.h = pick(operands(in, inst, va), map[int]handler{fR: hRdrand})
	case x86asm.RDTSCP:
		in.h = hRdtscp
	case x86asm.RDPMC:
		in.h = hRdpmc
		in.rep |= repTerm
	case x86asm.SMSW, x86asm.SLDT, x86asm.STR:
		in.op = map[x86asm.Op]uint8{x86asm.SMSW: 0, x86asm.SLDT: 1, x86asm.STR: 2}[inst.Op]
		f := operands(in, inst, va)
		if f == fM {
			in.sz = 2 // a memory destination is always a word
		}
		in.h = pick(f, map[int]handler{fR: hStoreSys, fM: hStoreSys})
	case x86asm.LMSW:
		in.sz = 2
		in.h = pick(operands(in, inst, va), map[int]handler{fR: hLmsw, fM: hLmsw})
		in.rep |= repTerm
	}
}

// lockable are the instructions a LOCK prefix may precede, and then only
// with a memory destination (SDM LOCK: "#UD If the LOCK prefix is used
// with an instruction not listed" or "the destination operand is not a
// memory operand").
var lockable = map[x86asm.Op]bool{
	x86asm.ADD: true, x86asm.ADC: true, x86asm.AND: true, x86asm.BTC: true, x86asm.BTR: true,
	x86asm.BTS: true, x86asm.CMPXCHG: true, x86asm.CMPXCHG8B: true, x86asm.CMPXCHG16B: true,
	x86asm.DEC: true, x86asm.INC: true, x86asm.NEG: true, x86asm.NOT: true, x86asm.OR: true,
	x86asm.SBB: true, x86asm.SUB: true, x86asm.XOR: true, x86asm.XADD: true, x86asm.XCHG: true,
}

func badLock(inst *x86asm.Inst) bool {
	if !hasPrefix(inst, x86asm.PrefixLOCK) {
		return false
	}
	_, mem := inst.Args[0].(x86asm.Mem)
	return !lockable[inst.Op] || !mem
}

// hPopcnt: POPCNT (op 0) and LZCNT (op 1). POPCNT clears OF SF AF CF PF
// and sets ZF for a zero source (SDM POPCNT); LZCNT sets CF for a zero
// source and ZF for a zero result, leaving OF SF AF PF undefined (SDM
// LZCNT), which softvmm clears.
func hPopcnt(c *CPU, in *insn) {
	src, ok := c.rmSrc(in, in.sz)
	if !ok {
		c.memFault(in)
		return
	}
	var r, f uint64
	if in.op == 0 {
		r = uint64(bits.OnesCount64(src))
		if src == 0 {
			f = flagZF
		}
	} else {
		r = uint64(bits.LeadingZeros64(src)) - uint64(64-8*int(in.sz))
		if src == 0 {
			f |= flagCF
		}
		if r == 0 {
			f |= flagZF
		}
	}
	c.setFlags(flagsArith, f)
	c.setReg(in.d, in.sz, r)
	in.next.h(c, in.next)
}

// hMovbe: MOVBE r, m (load) or m, r (store), byte-swapped.
func hMovbe(c *CPU, in *insn) {
	swap := func(v uint64) uint64 { return bits.ReverseBytes64(v) >> (64 - 8*uint(in.sz)) }
	addr := c.ea(in)
	if in.op == 0 {
		v, ok := c.read(addr, in.sz)
		if !ok {
			c.memFault(in)
			return
		}
		c.setReg(in.d, in.sz, swap(v))
	} else if !c.write(in, addr, in.sz, swap(c.getReg(in.s, in.sz))) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

func hClflush(c *CPU, in *insn) {
	if _, ok := c.read(c.ea(in), 1); !ok {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

// hRdpmc: softvmm's CPU model has no performance counters (CPUID leaf
// 0AH is not offered), so every counter index is invalid: #GP(0) (SDM
// RDPMC), as is CPL > 0 without CR4.PCE.
func hRdpmc(c *CPU, in *insn) { c.fault(in, vecGP, 0) }

// hStoreSys: SMSW (op 0), SLDT (op 1), STR (op 2). A register destination
// takes the full operand size, zero-extended; memory takes a word (SDM
// SMSW, SLDT, STR). UMIP is not offered, so they work at any CPL.
func hStoreSys(c *CPU, in *insn) {
	var v uint64
	switch in.op {
	case 0:
		v = c.cr0
	case 1:
		v = uint64(c.ldtr.sel)
	case 2:
		v = uint64(c.tr.sel)
	}
	if in.op != 0 || in.sz == 2 {
		v &= 0xffff
	}
	if in.mem {
		if !c.write(in, c.ea(in), 2, v) {
			c.memFault(in)
			return
		}
	} else {
		c.setReg(in.d, in.sz, v)
	}
	in.next.h(c, in.next)
}

// hLmsw loads CR0.PE, MP, EM and TS from the source's low four bits; it
// can set PE but never clear it (SDM LMSW). CPL 0 only.
func hLmsw(c *CPU, in *insn) {
	if !c.priv(in) {
		return
	}
	v, ok := c.rm1(in)
	if !ok {
		c.memFault(in)
		return
	}
	c.cr0 = c.cr0&^0xe | v&0xe | (c.cr0|v)&cr0PE
	c.rip = in.rip + uint64(in.len)
	c.retired += uint64(in.cnt)
}

// msrTSCAux is IA32_TSC_AUX (SDM Vol. 4 Table 2-2), the value RDTSCP
// returns in ECX; 0 after reset.
const msrTSCAux = 0xc0000103

// hRdtscp: EDX:EAX = TSC, ECX = IA32_TSC_AUX[31:0] (SDM RDTSCP), with
// RDTSC's CR4.TSD check.
func hRdtscp(c *CPU, in *insn) {
	if c.cr4&cr4TSD != 0 && c.cpl != 0 {
		c.fault(in, vecGP, 0)
		return
	}
	t := c.tscAt(in)
	c.r[rAX] = t & 0xffffffff
	c.r[rDX] = t >> 32
	c.r[rCX] = c.tscAux & 0xffffffff
	in.next.h(c, in.next)
}

// randSeed starts every vCPU's RDRAND sequence (mixed with the
// vCPU id): softvmm promises the same answer every run (DESIGN.md
// "Determinism"), so its random numbers are a fixed pseudo-random
// sequence, never host entropy. Guests that need real entropy must get it
// from a device the host seeds.
const randSeed = 0x5eed_50f7_0000_0001

// hRdrand: RDRAND always succeeds: the destination
// gets the next splitmix64 output truncated to the operand size, CF = 1
// and OF SF ZF AF PF = 0 (SDM RDRAND).
func hRdrand(c *CPU, in *insn) {
	if c.randState == 0 {
		c.randState = randSeed ^ uint64(c.vcpuid)<<32
	}
	c.randState += 0x9e3779b97f4a7c15
	z := c.randState
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	c.setReg(in.d, in.sz, z)
	c.setFlags(flagsArith, flagCF)
	in.next.h(c, in.next)
}

// rexRMReg finds the ModRM r/m register (with REX.B) of a 0F-map
// instruction in b, after its legacy and REX prefixes.
func rexRMReg(b []byte) (uint8, bool) {
	rex := byte(0)
	i := 0
	for i < len(b) && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf2 || b[i] == 0xf3 || b[i]&0xf0 == 0x40) {
		if b[i]&0xf0 == 0x40 {
			rex = b[i]
		}
		i++
	}
	if i+2 >= len(b) || b[i] != 0x0f || b[i+2]>>6 != 3 {
		return 0, false
	}
	return b[i+2]&7 | (rex&1)<<3, true
}

// ssOperand reports whether in's explicit memory operand is SS-relative
// (base RSP or RBP, no FS/GS override): in 64-bit mode a non-canonical
// address there is #SS(0), not #GP(0) (SDM Vol. 3 6.15, "Interrupt 12";
// Vol. 1 3.3.7.1). memFault applies it only to the #GP(0) of a
// non-canonical address (memFault.canon): a #GP(0) for a null selector
// read through [RBP] stays #GP(0). Implicit stack accesses are ssFault's.
func ssOperand(in *insn) bool {
	return in != nil && in.mem && in.seg == segNone && (in.base == rSP || in.base == rBP)
}
