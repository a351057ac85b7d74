package cpu

import (
	"golang.org/x/arch/x86/x86asm"
)

// Operand forms of two-operand instructions (d = first argument, s =
// second; M = memory, R = register, I = immediate).
const (
	fNone = iota
	fR
	fM
	fRR
	fRM
	fMR
	fRI
	fMI
	fI
	fBad
)

// opSize is the operand size in bytes, from the register arguments
// (x86asm names registers by width) or the memory width.
func opSize(inst *x86asm.Inst) uint8 {
	for _, a := range inst.Args[:2] {
		if r, ok := a.(x86asm.Reg); ok {
			if _, sz, ok := regNum(r); ok {
				return sz
			}
		}
	}
	if inst.MemBytes > 0 && inst.MemBytes <= 8 {
		return uint8(inst.MemBytes)
	}
	return uint8(inst.DataSize / 8)
}

// operands fills d/s/memory/imm from the first two arguments and returns
// the form. The immediate is masked to in.sz, which must be set.
func operands(in *insn, inst *x86asm.Inst, va uint64) int {
	k := [2]byte{}
	for i, a := range inst.Args[:2] {
		switch a := a.(type) {
		case nil:
			k[i] = 0
		case x86asm.Reg:
			n, _, ok := regNum(a)
			if !ok {
				return fBad
			}
			if i == 0 {
				in.d = n
			} else {
				in.s = n
			}
			k[i] = 'R'
		case x86asm.Mem:
			setMem(in, inst, a, va)
			k[i] = 'M'
		case x86asm.Imm:
			in.imm = uint64(a) & sizeMask[in.sz]
			k[i] = 'I'
		default:
			return fBad
		}
	}
	switch string(k[:]) {
	case "R\x00":
		return fR
	case "M\x00":
		return fM
	case "RR":
		return fRR
	case "RM":
		return fRM
	case "MR":
		return fMR
	case "RI":
		return fRI
	case "MI":
		return fMI
	case "I\x00":
		return fI
	}
	return fBad
}

var aluOps = map[x86asm.Op]uint8{
	x86asm.ADD: aADD, x86asm.OR: aOR, x86asm.ADC: aADC, x86asm.SBB: aSBB,
	x86asm.AND: aAND, x86asm.SUB: aSUB, x86asm.XOR: aXOR, x86asm.CMP: aCMP,
	x86asm.TEST: aTEST,
}

var shiftOps = map[x86asm.Op]uint8{
	x86asm.ROL: sROL, x86asm.ROR: sROR, x86asm.RCL: sRCL, x86asm.RCR: sRCR,
	x86asm.SHL: sSHL, x86asm.SHR: sSHR, x86asm.SAR: sSAR,
}

var ccOps = map[x86asm.Op]uint8{}
var setOps = map[x86asm.Op]uint8{}
var cmovOps = map[x86asm.Op]uint8{}

func init() {
	j := []x86asm.Op{x86asm.JO, x86asm.JNO, x86asm.JB, x86asm.JAE, x86asm.JE, x86asm.JNE, x86asm.JBE, x86asm.JA,
		x86asm.JS, x86asm.JNS, x86asm.JP, x86asm.JNP, x86asm.JL, x86asm.JGE, x86asm.JLE, x86asm.JG}
	s := []x86asm.Op{x86asm.SETO, x86asm.SETNO, x86asm.SETB, x86asm.SETAE, x86asm.SETE, x86asm.SETNE, x86asm.SETBE, x86asm.SETA,
		x86asm.SETS, x86asm.SETNS, x86asm.SETP, x86asm.SETNP, x86asm.SETL, x86asm.SETGE, x86asm.SETLE, x86asm.SETG}
	m := []x86asm.Op{x86asm.CMOVO, x86asm.CMOVNO, x86asm.CMOVB, x86asm.CMOVAE, x86asm.CMOVE, x86asm.CMOVNE, x86asm.CMOVBE, x86asm.CMOVA,
		x86asm.CMOVS, x86asm.CMOVNS, x86asm.CMOVP, x86asm.CMOVNP, x86asm.CMOVL, x86asm.CMOVGE, x86asm.CMOVLE, x86asm.CMOVG}
	for i := range j {
		ccOps[j[i]] = uint8(i)
		setOps[s[i]] = uint8(i)
		cmovOps[m[i]] = uint8(i)
	}
}

// legacyOnly are the instructions 64-bit mode does not have (#UD there;
// x86asm already refuses most of their encodings in mode 64).
var legacyOnly = map[x86asm.Op]bool{
	x86asm.PUSHA: true, x86asm.PUSHAD: true, x86asm.POPA: true, x86asm.POPAD: true,
	x86asm.AAA: true, x86asm.AAS: true, x86asm.AAM: true, x86asm.AAD: true,
	x86asm.DAA: true, x86asm.DAS: true, x86asm.BOUND: true, x86asm.INTO: true,
	x86asm.LES: true, x86asm.LDS: true,
}

// stringOps maps string instructions to (kind, element size).
var stringOps = map[x86asm.Op][2]uint8{
	x86asm.MOVSB: {strMOVS, 1}, x86asm.MOVSW: {strMOVS, 2}, x86asm.MOVSD: {strMOVS, 4}, x86asm.MOVSQ: {strMOVS, 8},
	x86asm.STOSB: {strSTOS, 1}, x86asm.STOSW: {strSTOS, 2}, x86asm.STOSD: {strSTOS, 4}, x86asm.STOSQ: {strSTOS, 8},
	x86asm.LODSB: {strLODS, 1}, x86asm.LODSW: {strLODS, 2}, x86asm.LODSD: {strLODS, 4}, x86asm.LODSQ: {strLODS, 8},
	x86asm.CMPSB: {strCMPS, 1}, x86asm.CMPSW: {strCMPS, 2}, x86asm.CMPSD: {strCMPS, 4}, x86asm.CMPSQ: {strCMPS, 8},
	x86asm.SCASB: {strSCAS, 1}, x86asm.SCASW: {strSCAS, 2}, x86asm.SCASD: {strSCAS, 4}, x86asm.SCASQ: {strSCAS, 8},
}

func pick(form int, hs map[int]handler) handler { return hs[form] }

func sel(w bool, a, b handler) handler {
	if w {
		return a
	}
	return b
}

// build turns one decoded instruction into in. Anything it does not know
// leaves in.h nil, which becomes #UD.
func (c *CPU) build(in *insn, inst *x86asm.Inst, va uint64) {
	in.base, in.index, in.seg, in.asz = noReg, noReg, segNone, 8
	in.sz = opSize(inst)
	if hasPrefix(inst, x86asm.PrefixREP) {
		in.rep = repE
	} else if hasPrefix(inst, x86asm.PrefixREPN) {
		in.rep = repNE
	}
	term := func() { in.rep |= repTerm }
	next := va + uint64(inst.Len)
	op := inst.Op
	if badLock(inst) || badPrefixes(inst) {
		return // #UD (exec_isa.go, prefixud.go)
	}
	legacy := inst.Mode != 64
	if !legacy && legacyOnly[op] {
		return
	}
	if legacy {
		defer markWrite(in, inst)
	}
	if c.buildFP(in, inst, va) { // x87, MMX, SSE: build_fp.go
		return
	}
	if legacy && c.buildLegacy(in, inst, va) {
		return
	}

	if a, ok := aluOps[op]; ok {
		in.op = a
		f := operands(in, inst, va)
		in.h = pick(f, map[int]handler{fRR: hAluRR, fRM: hAluRM, fMR: hAluMR, fRI: hAluRI, fMI: hAluMI})
		if f == fRR || f == fRI {
			in.fx = fxWriteAll
			if a == aADC || a == aSBB {
				in.fx |= fxRead
			}
		}
		if in.h != nil && (in.sz == 8 || in.sz == 4) && (f == fRR || f == fRI) {
			// Specialised handlers (alu_gen.go) for the hot shapes.
			in.h = aluSpec[b2u(in.sz == 4)][a][b2u(f == fRI)]
			in.nf = aluNF[b2u(in.sz == 4)][a][b2u(f == fRI)]
		}
		return
	}
	if s, ok := shiftOps[op]; ok {
		in.op = s
		if _, ok := inst.Args[0].(x86asm.Mem); ok {
			in.sz = uint8(inst.MemBytes) // opSize would take CL's width
		}
		f := operands(in, inst, va)
		if r, ok := inst.Args[1].(x86asm.Reg); ok && r == x86asm.CL {
			in.ssz = 1 // count from CL
			f = map[int]int{fRR: fR, fMR: fM}[f]
		} else {
			f = map[int]int{fRI: fR, fMI: fM}[f]
		}
		in.h = pick(f, map[int]handler{fR: hShiftR, fM: hShiftM})
		if f == fR && in.ssz == 0 && (in.sz == 8 || in.sz == 4) {
			if h := shiftSpec[b2u(in.sz == 4)][s]; h != nil {
				in.h = h
			}
		}
		if f == fR && in.ssz == 0 {
			cm := uint64(31)
			if in.sz == 8 {
				cm = 63
			}
			switch {
			case in.imm&cm == 0:
				in.fx = fxTransparent
			case s == sSHL || s == sSHR || s == sSAR:
				in.fx = fxWriteAll
			}
		}
		return
	}
	if cc, ok := ccOps[op]; ok {
		in.op = cc
		in.imm = next + uint64(int64(inst.Args[0].(x86asm.Rel)))
		in.h = hJcc
		switch cc {
		case ccE:
			in.h = hJe
		case ccNE:
			in.h = hJne
		}
		in.fx = fxRead
		term()
		return
	}
	if cc, ok := setOps[op]; ok {
		in.op = cc
		in.sz = 1
		in.h = pick(operands(in, inst, va), map[int]handler{fR: hSetccR, fM: hSetccM})
		return
	}
	if cc, ok := cmovOps[op]; ok {
		in.op = cc
		in.h = pick(operands(in, inst, va), map[int]handler{fRR: hCmovRR, fRM: hCmovRM})
		return
	}
	if so, ok := stringOps[op]; ok {
		in.op, in.ssz, in.sz = so[0], so[1], so[1]
		in.asz = uint8(inst.AddrSize / 8)
		in.seg = segNone
		// The source segment override applies to MOVS/LODS/CMPS's DS:RSI;
		// outside 64-bit mode every source has one (DS by default).
		for _, a := range inst.Args[:2] {
			m, ok := a.(x86asm.Mem)
			if !ok || m.Base != x86asm.RSI && m.Base != x86asm.ESI && m.Base != x86asm.SI {
				continue
			}
			if legacy {
				s, _ := segNum(m.Segment)
				in.seg = segChecked | s
			} else if m.Segment == x86asm.FS || m.Segment == x86asm.GS {
				in.seg = map[x86asm.Reg]uint8{x86asm.FS: segFS, x86asm.GS: segGS}[m.Segment]
			}
		}
		if legacy && in.seg == segNone {
			in.seg = segChecked | segDS // STOS, SCAS: no source; ES:DI only
		}
		if so[0] == strMOVS || so[0] == strSTOS || so[0] == strLODS {
			in.rep &^= repNE
			if hasPrefix(inst, x86asm.PrefixREP) || hasPrefix(inst, x86asm.PrefixREPN) {
				in.rep |= repE // F2 on MOVS/STOS/LODS acts as REP
			}
		}
		in.h = hString
		return
	}

	switch op {
	case x86asm.PAUSE:
		in.h = hPause
		return
	case x86asm.NOP, x86asm.LFENCE, x86asm.MFENCE, x86asm.SFENCE,
		x86asm.PREFETCHNTA, x86asm.PREFETCHT0, x86asm.PREFETCHT1, x86asm.PREFETCHT2, x86asm.PREFETCHW:
		in.h = hNop
		in.fx = fxTransparent
	case x86asm.MOV:
		c.buildMov(in, inst, va)
	case x86asm.MOVZX, x86asm.MOVSX, x86asm.MOVSXD:
		if m, ok := inst.Args[1].(x86asm.Mem); ok {
			setMem(in, inst, m, va)
			in.ssz = uint8(inst.MemBytes)
		} else if r, ok := inst.Args[1].(x86asm.Reg); ok {
			n, sz, ok := regNum(r)
			if !ok {
				return
			}
			in.s, in.ssz = n, sz
		}
		d, sz, ok := regNum(inst.Args[0].(x86asm.Reg))
		if !ok {
			return
		}
		in.d, in.sz = d, sz
		if op != x86asm.MOVZX {
			in.op = 1
		}
		in.h = hMovx
		if !in.mem {
			in.fx = fxTransparent
		}
	case x86asm.LEA:
		operands(in, inst, va)
		in.seg = segNone
		in.h = hLea
		in.fx = fxTransparent
		if in.mem && in.base != noReg && in.asz == 8 && (in.sz == 8 || in.sz == 4) {
			w := in.sz == 8
			if in.index == noReg {
				in.h = sel(w, hLea64B, hLea32B)
			} else {
				in.h = sel(w, hLea64BI, hLea32BI)
			}
		}
	case x86asm.XCHG:
		f := operands(in, inst, va)
		in.h = pick(f, map[int]handler{fRR: hXchgRR, fRM: hXchgRM, fMR: hXchgMR})
		if f == fRR {
			in.fx = fxTransparent
		}
	case x86asm.INC, x86asm.DEC, x86asm.NEG, x86asm.NOT:
		in.op = map[x86asm.Op]uint8{x86asm.INC: uINC, x86asm.DEC: uDEC, x86asm.NEG: uNEG, x86asm.NOT: uNOT}[op]
		f := operands(in, inst, va)
		in.h = pick(f, map[int]handler{fR: hUnaryR, fM: hUnaryM})
		if f == fR && (in.sz == 8 || in.sz == 4) && (in.op == uINC || in.op == uDEC) {
			w := in.sz == 8
			in.h, in.nf = sel(w, hInc64R, hInc32R), sel(w, hInc64Rnf, hInc32Rnf)
			if in.op == uDEC {
				in.h, in.nf = sel(w, hDec64R, hDec32R), sel(w, hDec64Rnf, hDec32Rnf)
			}
		}
		if f == fR {
			switch in.op {
			case uINC, uDEC:
				in.fx = fxRead // keeps CF
			case uNEG:
				in.fx = fxWriteAll
			case uNOT:
				in.fx = fxTransparent
			}
		}
	case x86asm.MUL, x86asm.DIV, x86asm.IDIV:
		in.op = map[x86asm.Op]uint8{x86asm.MUL: mMUL, x86asm.DIV: mDIV, x86asm.IDIV: mIDIV}[op]
		in.h = pick(operands(in, inst, va), map[int]handler{fR: hMulDiv, fM: hMulDiv})
	case x86asm.IMUL:
		switch {
		case inst.Args[1] == nil:
			in.op = mIMUL
			in.h = pick(operands(in, inst, va), map[int]handler{fR: hMulDiv, fM: hMulDiv})
		default:
			f := operands(in, inst, va)
			if imm, ok := inst.Args[2].(x86asm.Imm); ok {
				in.imm = uint64(imm) & sizeMask[in.sz]
				in.ssz = 1
			}
			in.h = pick(f, map[int]handler{fRR: hImul2, fRM: hImul2})
		}
	case x86asm.SHLD, x86asm.SHRD:
		f := operands(in, inst, va)
		if imm, ok := inst.Args[2].(x86asm.Imm); ok {
			in.imm = uint64(imm)
		} else {
			in.ssz = 1
		}
		if op == x86asm.SHRD {
			in.op = 1
		}
		in.h = pick(f, map[int]handler{fRR: hShld, fMR: hShld})
	case x86asm.CBW, x86asm.CWDE, x86asm.CDQE:
		in.sz = map[x86asm.Op]uint8{x86asm.CBW: 2, x86asm.CWDE: 4, x86asm.CDQE: 8}[op]
		in.h = hCbw
		in.fx = fxTransparent
	case x86asm.CWD, x86asm.CDQ, x86asm.CQO:
		in.sz = map[x86asm.Op]uint8{x86asm.CWD: 2, x86asm.CDQ: 4, x86asm.CQO: 8}[op]
		in.h = hCwd
		in.fx = fxTransparent
	case x86asm.BT, x86asm.BTS, x86asm.BTR, x86asm.BTC:
		in.op = map[x86asm.Op]uint8{x86asm.BT: 0, x86asm.BTS: 1, x86asm.BTR: 2, x86asm.BTC: 3}[op]
		f := operands(in, inst, va)
		if f == fRI || f == fMI {
			in.ssz = 1
		}
		in.h = pick(f, map[int]handler{fRR: hBt, fRI: hBt, fMR: hBt, fMI: hBt})
	case x86asm.BSF, x86asm.BSR, x86asm.TZCNT, x86asm.LZCNT:
		if op == x86asm.LZCNT {
			c.buildISA(in, inst, va) // ABM is advertised (exec_isa.go)
			return
		}
		// TZCNT needs BMI1, which is not advertised: without it F3 0F BC
		// is BSF with an ignored REP prefix (SDM TZCNT).
		if op == x86asm.BSR {
			in.op = 1
		}
		in.h = pick(operands(in, inst, va), map[int]handler{fRR: hBsf, fRM: hBsf})
	case x86asm.BSWAP:
		in.h = pick(operands(in, inst, va), map[int]handler{fR: hBswap})
		in.fx = fxTransparent
	case x86asm.XADD:
		in.h = pick(operands(in, inst, va), map[int]handler{fRR: hXadd, fMR: hXadd})
	case x86asm.CMPXCHG:
		in.h = pick(operands(in, inst, va), map[int]handler{fRR: hCmpxchg, fMR: hCmpxchg})
	case x86asm.CMPXCHG8B, x86asm.CMPXCHG16B:
		in.sz = 4
		if op == x86asm.CMPXCHG16B {
			in.sz = 8
		}
		if m, ok := inst.Args[0].(x86asm.Mem); ok {
			setMem(in, inst, m, va)
			in.h = hCmpxchg8b
		}
	case x86asm.PUSH:
		in.sz = stackSize(inst)
		switch a := inst.Args[0].(type) {
		case x86asm.Imm:
			in.imm = uint64(a) & sizeMask[in.sz]
			in.h = hPushI
		case x86asm.Reg:
			if s, ok := segNum(a); ok {
				if s != segFS && s != segGS && !legacy {
					return
				}
				in.s = s
				in.h = hPushSeg
				return
			}
			in.d, _, _ = regNum(a)
			in.h = hPushR
		case x86asm.Mem:
			setMem(in, inst, a, va)
			in.h = hPushM
		}
	case x86asm.POP:
		in.sz = stackSize(inst)
		switch a := inst.Args[0].(type) {
		case x86asm.Reg:
			if s, ok := segNum(a); ok {
				if s != segFS && s != segGS && !legacy || s == segCS {
					return
				}
				in.s = s
				in.h = hPopSeg
				term()
				return
			}
			in.d, _, _ = regNum(a)
			in.h = hPopR
		case x86asm.Mem:
			setMem(in, inst, a, va)
			in.h = hPopM
		}
	case x86asm.LAR, x86asm.LSL, x86asm.VERR, x86asm.VERW:
		in.op = map[x86asm.Op]uint8{x86asm.LAR: probeLAR, x86asm.LSL: probeLSL, x86asm.VERR: probeVERR, x86asm.VERW: probeVERW}[op]
		f := operands(in, inst, va)
		if f != fRR && f != fRM && f != fR && f != fM {
			return
		}
		if op == x86asm.VERR || op == x86asm.VERW {
			in.sz = 2
		}
		in.h = hProbe
	case x86asm.ICEBP:
		in.h = hIcebp
		term()
	case x86asm.PUSHF, x86asm.PUSHFQ, x86asm.PUSHFD:
		in.sz = stackSize(inst)
		in.h = hPushf
	case x86asm.POPF, x86asm.POPFQ, x86asm.POPFD:
		in.sz = stackSize(inst)
		in.h = hPopf
		term()
	case x86asm.LEAVE:
		in.sz = stackSize(inst)
		in.h = hLeave
	case x86asm.JMP:
		in.sz = branchSize(inst)
		switch a := inst.Args[0].(type) {
		case x86asm.Rel:
			in.imm = next + uint64(int64(a))
			in.h = hJmp
		case x86asm.Reg:
			in.d, _, _ = regNum(a)
			in.h = hJmpR
		case x86asm.Mem:
			setMem(in, inst, a, va)
			in.h = hJmpM
		}
		term()
	case x86asm.CALL:
		in.sz = branchSize(inst)
		switch a := inst.Args[0].(type) {
		case x86asm.Rel:
			in.imm = next + uint64(int64(a))
			in.h = hCall
		case x86asm.Reg:
			in.d, _, _ = regNum(a)
			in.h = hCallR
		case x86asm.Mem:
			setMem(in, inst, a, va)
			in.h = hCallM
		}
		term()
	case x86asm.RET:
		in.sz = stackSize(inst)
		if imm, ok := inst.Args[0].(x86asm.Imm); ok {
			in.imm = uint64(imm) & 0xffff
		}
		in.h = hRet
		term()
	case x86asm.JRCXZ, x86asm.JECXZ, x86asm.JCXZ:
		in.asz = uint8(inst.AddrSize / 8)
		in.imm = next + uint64(int64(inst.Args[0].(x86asm.Rel)))
		in.h = hJrcxz
		term()
	case x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		in.asz = uint8(inst.AddrSize / 8)
		in.op = map[x86asm.Op]uint8{x86asm.LOOP: 0, x86asm.LOOPE: 1, x86asm.LOOPNE: 2}[op]
		in.imm = next + uint64(int64(inst.Args[0].(x86asm.Rel)))
		in.h = hLoop
		term()
	case x86asm.CLC, x86asm.STC, x86asm.CMC, x86asm.CLD, x86asm.STD:
		in.op = map[x86asm.Op]uint8{x86asm.CLC: 0, x86asm.STC: 1, x86asm.CMC: 2, x86asm.CLD: 3, x86asm.STD: 4}[op]
		in.h = hFlagOp
	case x86asm.CLI:
		in.h = hCli
	case x86asm.STI:
		in.h = hSti
		term()
	case x86asm.LAHF:
		in.h = hLahf
	case x86asm.SAHF:
		in.h = hSahf
	case x86asm.HLT:
		in.h = hHlt
		term()
	case x86asm.IN, x86asm.OUT:
		c.buildIO(in, inst)
		term()
	case x86asm.INSB, x86asm.INSW, x86asm.INSD, x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
		c.buildStrIO(in, inst)
		term()
	case x86asm.RDMSR:
		in.h = hRdmsr
		term()
	case x86asm.WRMSR:
		in.h = hWrmsr
		term()
	case x86asm.CPUID:
		in.h = hCpuid
	case x86asm.RDTSC:
		in.h = hRdtsc
	case x86asm.LGDT, x86asm.LIDT, x86asm.SGDT, x86asm.SIDT:
		m, ok := inst.Args[0].(x86asm.Mem)
		if !ok {
			return
		}
		setMem(in, inst, m, va)
		in.op = map[x86asm.Op]uint8{x86asm.LGDT: 0, x86asm.LIDT: 1, x86asm.SGDT: 2, x86asm.SIDT: 3}[op]
		in.h = hDescTable
		term()
	case x86asm.INVLPG:
		m, ok := inst.Args[0].(x86asm.Mem)
		if !ok {
			return
		}
		setMem(in, inst, m, va)
		in.h = hInvlpg
		term()
	case x86asm.INT:
		in.op = uint8(inst.Args[0].(x86asm.Imm))
		in.h = hInt
		if inst.Len == 1 {
			in.h = hInt3
		}
		term()
	case x86asm.IRETQ, x86asm.IRETD, x86asm.IRET:
		in.sz = uint8(inst.DataSize / 8)
		in.h = hIret
		term()
	case x86asm.LJMP, x86asm.LCALL:
		in.sz = uint8(inst.DataSize / 8)
		if m, ok := inst.Args[0].(x86asm.Mem); ok {
			setMem(in, inst, m, va)
			in.msz = in.sz + 2
		} else {
			sel, ok1 := inst.Args[0].(x86asm.Imm)
			off, ok2 := inst.Args[1].(x86asm.Imm)
			if !ok1 || !ok2 {
				return
			}
			in.disp, in.imm = uint64(sel)&0xffff, uint64(off)&sizeMask[in.sz]
		}
		in.h = hFarJmp
		if op == x86asm.LCALL {
			in.h = hFarCall
		}
		term()
	case x86asm.LRET:
		in.sz = uint8(inst.DataSize / 8)
		if imm, ok := inst.Args[0].(x86asm.Imm); ok {
			in.imm = uint64(imm) & 0xffff
		}
		in.h = hRetf
		term()
	case x86asm.LSS, x86asm.LFS, x86asm.LGS, x86asm.LES, x86asm.LDS:
		f := operands(in, inst, va)
		if f != fRM {
			return
		}
		in.op = map[x86asm.Op]uint8{x86asm.LSS: segSS, x86asm.LFS: segFS, x86asm.LGS: segGS, x86asm.LES: segES, x86asm.LDS: segDS}[op]
		in.msz = in.sz + 2
		in.h = hLoadFar
		term()
	case x86asm.LLDT, x86asm.LTR, x86asm.SLDT, x86asm.STR, x86asm.LMSW, x86asm.SMSW:
		in.op = map[x86asm.Op]uint8{x86asm.LLDT: 0, x86asm.LTR: 1, x86asm.SLDT: 2, x86asm.STR: 3, x86asm.LMSW: 4, x86asm.SMSW: 5}[op]
		f := operands(in, inst, va)
		if f != fR && f != fM {
			return
		}
		if in.mem {
			in.sz, in.msz = 2, 2
		}
		in.h = hSysSeg
		term()
	case x86asm.ENTER:
		in.sz = stackSize(inst)
		a0, _ := inst.Args[0].(x86asm.Imm)
		a1, _ := inst.Args[1].(x86asm.Imm)
		in.imm, in.disp = uint64(a0)&0xffff, uint64(a1)&0x1f
		in.h = hEnter
	case x86asm.XLATB:
		m, ok := inst.Args[0].(x86asm.Mem)
		if !ok {
			return
		}
		setMem(in, inst, m, va)
		in.msz = 1
		in.h = hXlat
	case x86asm.UD2:
		in.h = hUD
		term()
	case x86asm.SYSCALL:
		in.h = hSyscall
		term()
	case x86asm.SYSRET:
		if inst.DataSize == 64 {
			in.op = 1
		}
		in.h = hSysret
		term()
	case x86asm.SYSENTER:
		in.h = hSysenter
		term()
	case x86asm.SYSEXIT:
		if inst.DataSize == 64 {
			in.op = 1
		}
		in.h = hSysexit
		term()
	case x86asm.SWAPGS:
		in.h = hSwapgs
	case x86asm.CLTS:
		in.h = hClts
	case x86asm.WBINVD, x86asm.INVD:
		in.h = hPrivNop
	default:
		c.buildISA(in, inst, va) // exec_isa.go
	}
}

// readOnlyDst are the instructions whose first operand, when memory, is
// only read.
var readOnlyDst = map[x86asm.Op]bool{
	x86asm.CMP: true, x86asm.TEST: true, x86asm.BT: true, x86asm.PUSH: true,
	x86asm.CALL: true, x86asm.JMP: true, x86asm.LJMP: true, x86asm.LCALL: true,
	x86asm.LGDT: true, x86asm.LIDT: true, x86asm.LLDT: true, x86asm.LTR: true,
	x86asm.LMSW: true, x86asm.VERR: true, x86asm.VERW: true, x86asm.INVLPG: true,
	x86asm.NOP: true, x86asm.MUL: true, x86asm.IMUL: true, x86asm.DIV: true,
	x86asm.IDIV: true, x86asm.XLATB: true, x86asm.PREFETCHNTA: true,
	x86asm.PREFETCHT0: true, x86asm.PREFETCHT1: true, x86asm.PREFETCHT2: true,
	x86asm.PREFETCHW: true,
}

// markWrite flags a legacy-mode memory operand that the instruction
// writes, for linear's writable-segment check.
func markWrite(in *insn, inst *x86asm.Inst) {
	if !in.mem || in.seg == segNone || in.seg&segChecked == 0 {
		return
	}
	_, dst := inst.Args[0].(x86asm.Mem)
	if dst && !readOnlyDst[inst.Op] && !fpReadOnlyMem[inst.Op] || inst.Op == x86asm.XCHG {
		in.seg |= segWrite
	}
}

func (c *CPU) buildMov(in *insn, inst *x86asm.Inst, va uint64) {
	a0, a1 := inst.Args[0], inst.Args[1]
	// Control, debug and segment registers first.
	if r, ok := a0.(x86asm.Reg); ok {
		switch {
		case r >= x86asm.CR0 && r <= x86asm.CR15:
			in.op = uint8(r - x86asm.CR0)
			in.s, _, _ = regNum(a1.(x86asm.Reg))
			in.h = hMovToCR
			in.rep |= repTerm
			return
		case r >= x86asm.DR0 && r <= x86asm.DR7:
			in.op = uint8(r - x86asm.DR0)
			in.s, _, _ = regNum(a1.(x86asm.Reg))
			in.h = hMovToDR
			in.rep |= repTerm
			return
		}
		if s, ok := segNum(r); ok {
			if s == segCS {
				return
			}
			in.op = s
			in.sz = 2
			switch a1 := a1.(type) {
			case x86asm.Reg:
				in.s, _, _ = regNum(a1)
				in.h = hMovToSeg
			case x86asm.Mem:
				setMem(in, inst, a1, va)
				in.h = hMovToSeg
			}
			in.rep |= repTerm
			return
		}
	}
	if r, ok := a1.(x86asm.Reg); ok {
		switch {
		case r >= x86asm.CR0 && r <= x86asm.CR15:
			in.op = uint8(r - x86asm.CR0)
			in.d, _, _ = regNum(a0.(x86asm.Reg))
			in.h = hMovFromCR
			return
		case r >= x86asm.DR0 && r <= x86asm.DR7:
			in.op = uint8(r - x86asm.DR0)
			in.d, _, _ = regNum(a0.(x86asm.Reg))
			in.h = hMovFromDR
			return
		}
		if s, ok := segNum(r); ok {
			in.op = s
			switch a0 := a0.(type) {
			case x86asm.Reg:
				var sz uint8
				in.d, sz, _ = regNum(a0)
				in.sz = sz
				in.h = hMovFromSegR
			case x86asm.Mem:
				setMem(in, inst, a0, va)
				in.sz = 2
				in.h = hMovFromSegM
			}
			return
		}
	}
	f := operands(in, inst, va)
	in.h = pick(f, map[int]handler{fRR: hMovRR, fRM: hMovRM, fMR: hMovMR, fRI: hMovRI, fMI: hMovMI})
	if f == fRR || f == fRI {
		in.fx = fxTransparent
	}
	if in.h == nil || in.sz < 4 {
		return
	}
	w := in.sz == 8
	switch f {
	case fRR:
		in.h = sel(w, hMov64RR, hMov32RR)
	case fRI:
		if w {
			in.h = hMovRI64
		}
	case fRM:
		in.h = sel(w, hMov64RM, hMovRM)
		if eaBase(in) {
			in.h = sel(w, hLoad64B, hLoad32B)
		}
	case fMR:
		in.h = sel(w, hMov64MR, hMovMR)
		if eaBase(in) {
			in.h = sel(w, hStore64B, hStore32B)
		}
	}
}

func (c *CPU) buildIO(in *insn, inst *x86asm.Inst) {
	var port, data x86asm.Arg
	if inst.Op == x86asm.IN {
		data, port = inst.Args[0], inst.Args[1]
		in.op = 1
	} else {
		port, data = inst.Args[0], inst.Args[1]
	}
	_, sz, ok := regNum(data.(x86asm.Reg))
	if !ok {
		return
	}
	in.sz = sz
	switch p := port.(type) {
	case x86asm.Imm:
		in.imm = uint64(p) & 0xff
		in.ssz = 1
	case x86asm.Reg:
		// DX
	}
	in.h = hInOut
}
