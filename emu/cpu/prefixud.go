package cpu

import "golang.org/x/arch/x86/x86asm"

// Encodings x86asm accepts (or refuses) differently from the processor,
// found by the host #UD sweep (isa_udsweep_test.go), which runs every
// in-scope x86.csv row with each of 66/F2/F3 added or removed, LOCK and
// REX.W added and the other ModRM.mod on the host and here.

// npOps have no 66, F2 or F3 form in the opcode map: the SDM writes "NP"
// in their Opcode column, which "indicates the use of 66/F2/F3 prefixes
// (beyond those already part of the instructions opcode) are not allowed
// with the instruction. Such use will either cause an invalid-opcode
// exception (#UD) or result in the encoding for a different instruction"
// (SDM Vol. 2 §3.1.1.1). x86asm ignores the prefix and decodes the NP
// instruction. The different instructions these prefixes select are all
// ones softvmm's CPUID does not advertise, so each is #UD here:
//   - group 15 (0F AE, Appendix A Table A-6): FXSAVE /0, FXRSTOR /1,
//     LDMXCSR /2, STMXCSR /3, XSAVE /4, XRSTOR /5, XSAVEOPT /6,
//     CLFLUSH /7 with memory, LFENCE /5, MFENCE /6, SFENCE /7 with a
//     register; 66 /6 and 66 /7 with memory are CLWB and CLFLUSHOPT
//     (CPUID.(EAX=7):EBX[24] and [23]), F3 /0-/3 with a register
//     RDFSBASE..WRGSBASE (CR4.FSGSBASE), F3 /5 and /6 INCSSP and
//     CLRSSBSY (CET), 66 /6 register TPAUSE, F3/F2 /6 register
//     UMONITOR/UMWAIT (WAITPKG); every other combination is blank;
//   - EMMS (NP 0F 77), XGETBV (NP 0F 01 D0), XSETBV (NP 0F 01 D1),
//     MOVNTI (NP 0F C3; in 16-bit code too, where 66 would pick the
//     32-bit size it has anyway);
//   - RCPPS (NP 0F 53) and RSQRTPS (NP 0F 52), whose opcodes have only
//     the NP and F3 (RCPSS, RSQRTSS) columns (Table A-3). x86asm takes
//     the last of F2/F3 as the mandatory prefix, as the host does: F3 F2
//     0F 53 decodes as RCPPS with F2 and is #UD.
//
// The host raises #UD for each of these with each prefix.
var npOps = map[x86asm.Op]bool{
	x86asm.FXSAVE: true, x86asm.FXSAVE64: true, x86asm.FXRSTOR: true, x86asm.FXRSTOR64: true,
	x86asm.LDMXCSR: true, x86asm.STMXCSR: true, x86asm.XSAVE: true, x86asm.XSAVE64: true,
	x86asm.XRSTOR: true, x86asm.XRSTOR64: true, x86asm.XSAVEOPT: true, x86asm.XSAVEOPT64: true,
	x86asm.CLFLUSH: true, x86asm.LFENCE: true, x86asm.MFENCE: true, x86asm.SFENCE: true,
	x86asm.EMMS: true, x86asm.XGETBV: true, x86asm.XSETBV: true, x86asm.MOVNTI: true,
	x86asm.RCPPS: true, x86asm.RSQRTPS: true,
}

// badPrefixes reports an encoding that is #UD for its prefixes or ModRM
// form although x86asm decodes it: an NP instruction with 66, F2 or F3
// (npOps), and the register forms of MOVLPD and MOVHPD, which are
// memory-only ("66 0F 12 /r MOVLPD xmm1, m64", "66 0F 13 /r MOVLPD m64,
// xmm1", and the same for MOVHPD with 16/17, SDM Vol. 2 MOVLPD/MOVHPD;
// x86.csv's "xmm2/m64" is wrong there and the host raises #UD for them).
func badPrefixes(inst *x86asm.Inst) bool {
	if npOps[inst.Op] {
		return hasPrefix(inst, x86asm.PrefixDataSize) || hasPrefix(inst, x86asm.PrefixREP) || hasPrefix(inst, x86asm.PrefixREPN)
	}
	if inst.Op == x86asm.MOVLPD || inst.Op == x86asm.MOVHPD {
		for _, a := range inst.Args {
			if _, ok := a.(x86asm.Mem); ok {
				return false
			}
		}
		return true
	}
	return false
}

// aliasOpcode rewrites, in a copy, the two opcode bytes at b[p:] of an
// encoding x86asm refuses but the processor runs as another one, and
// returns the copy (nil when b is none of them). The SDM's opcode maps
// leave these cells blank (Appendix A, Tables ..A-22); the
// host runs them, so softvmm follows the host:
//   - 0F AE with mod = 11 and reg 5, 6 or 7 is LFENCE, MFENCE or SFENCE
//     whatever the r/m bits (the SDM lists E8, F0 and F8; the host takes
//     E9-EF, F1-F7 and F9-FF alike);
//   - the x87 register-form aliases: D9 D8+i (FSTP ST(i), but see
//     exec_x87.go), DC D0+i (FCOM ST(i)), DC D8+i (FCOMP ST(i)), DD C8+i
//     and DF C8+i (FXCH ST(i)), DE D0+i (FCOMP ST(i)), DF D0+i and DF
//     D8+i (FSTP ST(i)), and DB E0, E1 and E4 (the 8087's FNENI and
//     FNDISI and the 287's FNSETPM, no-ops since the 387 as the host
//     has them); x87.csv and x86asm do not have them. The copy
//     only gets them past x86asm: decode puts the alias's own opcode back
//     in Inst.Opcode, and x87Reg runs each (TestX87AliasesDiff compares
//     them with the host bit for bit).
func aliasOpcode(b []byte, p int) []byte {
	if p+2 > len(b) {
		return nil
	}
	o, m := b[p], b[p+1]
	var no, nm byte
	switch {
	case o == 0x0f && p+3 <= len(b) && m == 0xae && b[p+2] >= 0xe8 && b[p+2]&7 != 0:
		out := append([]byte(nil), b...)
		out[p+2] &^= 7
		return out
	case m < 0xc0:
		return nil
	case o == 0xd9 && m >= 0xd8 && m < 0xe0:
		no, nm = 0xdd, m
	case o == 0xdc && m >= 0xd0 && m < 0xe0:
		no, nm = 0xd8, m
	case o == 0xdd && m >= 0xc8 && m < 0xd0:
		no, nm = 0xd9, m
	case o == 0xde && m >= 0xd0 && m < 0xd8:
		no, nm = 0xd8, m+8
	case o == 0xdf && m >= 0xc8 && m < 0xd0:
		no, nm = 0xd9, m
	case o == 0xdf && m >= 0xd0 && m < 0xe0:
		no, nm = 0xdd, 0xd8|m&7
	case o == 0xdb && (m == 0xe0 || m == 0xe1 || m == 0xe4):
		no, nm = 0xd9, 0xd0 // any x87 form: x87Reg runs FNENI, FNDISI, FNSETPM
	default:
		return nil
	}
	out := append([]byte(nil), b...)
	out[p], out[p+1] = no, nm
	return out
}
