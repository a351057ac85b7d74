package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// An instruction of a feature softvmm's CPUID (cpuid.go) does not
// advertise raises #UD as on a processor without it (SDM Vol. 2, each
// instruction's "#UD If CPUID.xx:reg.FEATURE[bit] = 0"), with RIP at the
// instruction and nothing retired.
func TestUnadvertisedFeatureUD(t *testing.T) {
	for _, tc := range []struct {
		name      string
		code      []byte
		leaf, reg uint32
		bit       uint
	}{
		{"MONITOR", []byte{0x0f, 0x01, 0xc8}, 1, 2, 3},
		{"MWAIT", []byte{0x0f, 0x01, 0xc9}, 1, 2, 3},
		{"RDSEED", []byte{0x0f, 0xc7, 0xf8}, 7, 1, 18},
		{"ADCX", []byte{0x66, 0x0f, 0x38, 0xf6, 0xc3}, 7, 1, 19},
		{"ANDN (BMI1, VEX)", []byte{0xc4, 0xe2, 0x78, 0xf2, 0xc3}, 7, 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := withHandlers(t, append(append([]byte{}, tc.code...), 0xf4))
			a, b, cx, d := c.cpuid(tc.leaf, 0)
			if [4]uint32{a, b, cx, d}[tc.reg]>>tc.bit&1 != 0 {
				t.Fatalf("CPUID %#x advertises bit %d: the test's premise is gone", tc.leaf, tc.bit)
			}
			ex := run(t, c, 10, ExitHLT)
			if ex.RIP != handlerVA+vecUD*16 {
				t.Fatalf("% x: halted at %#x, want the #UD handler", tc.code, ex.RIP)
			}
			if _, f := frame(c, ram, false); f[0] != codeBase {
				t.Fatalf("#UD frame RIP %#x, want %#x", f[0], codeBase)
			}
			if c.Retired() != 1 { // only the handler's HLT
				t.Fatalf("retired %d, want 1", c.Retired())
			}
		})
	}
}

// Without BMI1, F3 0F BC is BSF with an ignored REP prefix (SDM TZCNT:
// "on processors that do not support TZCNT, the instruction byte encoding
// is executed as BSF"); the host's BSF is the oracle.
func TestTZCNTWithoutBMI1IsBSF(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	c, ram := newGuest(t, nil)
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sz := range sizes[1:] {
		bsf := enc(sz, 0, 0x0f, 0xbc, 0xc3) // bsf ax/eax/rax, bx/ebx/rbx
		i := 0
		if bsf[0] == 0x66 {
			i = 1
		}
		tz := append(append(append([]byte{}, bsf[:i]...), 0xf3), bsf[i:]...)
		copy(ram.b[codeBase:], append(append([]byte{}, tz...), 0xf4))
		for _, in := range inputs(rng, 300) {
			nat := in
			if err := hostexec.Exec(bsf, &nat); err != nil {
				t.Skip(err)
			}
			for _, r := range testRegs {
				c.r[r] = in.Regs[r]
			}
			c.setRflags(in.Flags | 2)
			c.rip = codeBase
			if ex := c.Run(10); ex.Reason != ExitHLT {
				t.Fatalf("% x: exit %v", tz, ex.Reason)
			}
			zero := in.Regs[rBX]&sizeMask[sz.sz] == 0
			if (c.rflags()^nat.Flags)&flagZF != 0 || !zero && c.r[rAX] != nat.Regs[rAX] {
				t.Fatalf("% x vs host bsf: input %s\n  host   %s\n  interp %s", tz, fmtIn(&in), fmtOut(&nat, nat.Flags), fmtOutC(c))
			}
		}
		// The ISA coverage report's 64-bit TZCNT rows (isafeat_test.go
		// runs the legacy modes).
		markVerified(64, fmt.Sprintf("TZCNT r%d, r/m%d", sz.sz*8, sz.sz*8))
	}
}

// LZCNT (advertised through CPUID.80000001H:ECX.ABM[5]) against the host:
// CF for a zero source, ZF for a zero result; OF SF AF PF undefined (SDM
// LZCNT).
func TestDiffLZCNT(t *testing.T) {
	var cs []diffCase
	for _, sz := range sizes[1:] {
		code := enc(sz, 0, 0x0f, 0xbd, 0xc3)
		i := 0
		if code[0] == 0x66 {
			i = 1
		}
		code = append(code[:i], append([]byte{0xf3}, code[i:]...)...)
		cs = append(cs, diffCase{name: fmt.Sprintf("lzcnt%d", sz.sz*8), code: code,
			undef: constUndef(flagOF | flagSF | flagAF | flagPF)})
	}
	runDiffN(t, cs, 1000)
}

// LOCK is #UD unless it precedes a lockable instruction with a memory
// destination (SDM LOCK), and harmless (the interpreter is one thread per
// vCPU and serialises memory) where it is allowed.
func TestLockPrefix(t *testing.T) {
	for _, tc := range []struct {
		code []byte
		ud   bool
	}{
		{[]byte{0xf0, 0x48, 0x01, 0x03}, false},       // lock add [rbx], rax
		{[]byte{0xf0, 0x48, 0x01, 0xc3}, true},        // lock add rbx, rax
		{[]byte{0xf0, 0x48, 0x03, 0x03}, true},        // lock add rax, [rbx]
		{[]byte{0xf0, 0x48, 0x8b, 0x03}, true},        // lock mov rax, [rbx]
		{[]byte{0xf0, 0x48, 0x0f, 0xa3, 0x03}, true},  // lock bt [rbx], rax
		{[]byte{0xf0, 0x48, 0x0f, 0xab, 0x03}, false}, // lock bts [rbx], rax
		{[]byte{0xf0, 0x48, 0x87, 0x03}, false},       // lock xchg [rbx], rax
		{[]byte{0xf0, 0x0f, 0xc7, 0x0b}, false},       // lock cmpxchg8b [rbx]
		{[]byte{0xf0, 0x90}, true},                    // lock nop
		{[]byte{0xf0, 0xff, 0x03}, false},             // lock inc dword [rbx]
		{[]byte{0xf0, 0xf7, 0x1b}, false},             // lock neg dword [rbx]
		{[]byte{0xf0, 0xf7, 0x03, 1, 0, 0, 0}, true},  // lock test dword [rbx], 1
	} {
		c, _ := withHandlers(t, append(append([]byte{}, tc.code...), 0xf4))
		c.r[rBX] = dataBase
		ex := run(t, c, 10, ExitHLT)
		if gotUD := ex.RIP == handlerVA+vecUD*16; gotUD != tc.ud {
			t.Errorf("% x: #UD %v, want %v (halted at %#x)", tc.code, gotUD, tc.ud, ex.RIP)
		}
	}
}

// A non-canonical address through an RBP- or RSP-based operand is
// #SS(0); through any other base, or with an FS/GS override, #GP(0) (SDM
// Vol. 3 6.15, interrupts 12 and 13).
func TestNonCanonicalStackOperandIsSS(t *testing.T) {
	const nc = 0x8000000000001000
	for _, tc := range []struct {
		code     []byte
		rbp, rbx uint64
		vec      uint64
	}{
		{[]byte{0x48, 0x8b, 0x45, 0x00}, nc, 0, vecSS},              // mov rax, [rbp]
		{[]byte{0x48, 0x89, 0x44, 0x1d, 0x00}, dataBase, nc, vecSS}, // mov [rbp+rbx], rax
		{[]byte{0x48, 0x8b, 0x44, 0x1c, 0x08}, 0, nc, vecSS},        // mov rax, [rsp+rbx+8]
		{[]byte{0x48, 0x8b, 0x03}, 0, nc, vecGP},                    // mov rax, [rbx]
		{[]byte{0x48, 0x8b, 0x04, 0x2b}, nc, 0, vecGP},              // mov rax, [rbx+rbp] (base rbx)
		{[]byte{0x64, 0x48, 0x8b, 0x45, 0x00}, nc, 0, vecGP},        // mov rax, fs:[rbp]
	} {
		c, ram := withHandlers(t, append(append([]byte{}, tc.code...), 0xf4))
		c.r[rBP], c.r[rBX] = tc.rbp, tc.rbx
		ex := run(t, c, 10, ExitHLT)
		if ex.RIP != handlerVA+tc.vec*16 {
			t.Errorf("% x: halted at %#x, want vector %d", tc.code, ex.RIP, tc.vec)
			continue
		}
		if e, f := frame(c, ram, true); e != 0 || f[0] != codeBase {
			t.Errorf("% x: error code %#x rip %#x", tc.code, e, f[0])
		}
	}
}
