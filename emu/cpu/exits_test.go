package cpu

import (
	"errors"
	"testing"

	"softvmm/emu/abi"
)

// The loop guest used by several tests and BenchmarkLoop:
//
//	mov ecx, N ; l: add rax, rcx ; dec ecx ; jnz l ; hlt
func loopGuest(n uint32) []byte {
	return []byte{
		0xb9, byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24), // mov ecx, n
		0x48, 0x01, 0xc8, // add rax, rcx
		0xff, 0xc9, // dec ecx
		0x75, 0xf9, // jnz -7
		0xf4, // hlt
	}
}

func TestLoopGuest(t *testing.T) {
	c, _ := newGuest(t, loopGuest(1000))
	ex := run(t, c, 1<<20, ExitHLT)
	if got := reg(t, c, abi.VM_REG_GUEST_RAX); got != 1000*1001/2 {
		t.Errorf("rax = %d, want %d", got, 1000*1001/2)
	}
	if ex.RIP != codeBase+12 || ex.InstLen != 1 {
		t.Errorf("HLT exit rip %#x len %d, want %#x 1", ex.RIP, ex.InstLen, codeBase+12)
	}
	if got := reg(t, c, abi.VM_REG_GUEST_RIP); got != codeBase+13 {
		t.Errorf("RIP after HLT = %#x, want %#x (past it)", got, codeBase+13)
	}
	// 1 mov + 1000*3 + hlt
	if got := c.Retired(); got != 1+3000+1 {
		t.Errorf("retired %d, want %d", got, 3002)
	}
}

// The budget is exact: running the loop one instruction at a time stops
// at the same places and gives the same answer.
func TestBudgetExact(t *testing.T) {
	c, _ := newGuest(t, loopGuest(50))
	for i := uint64(1); ; i++ {
		ex := c.Run(1)
		if c.Retired() != i {
			t.Fatalf("after %d Run(1) calls retired = %d", i, c.Retired())
		}
		if ex.Reason == ExitHLT {
			break
		}
		if ex.Reason != ExitBudget {
			t.Fatalf("exit %v", ex.Reason)
		}
	}
	if got := reg(t, c, abi.VM_REG_GUEST_RAX); got != 50*51/2 {
		t.Errorf("rax = %d", got)
	}
	c2, _ := newGuest(t, loopGuest(50))
	ex := run(t, c2, 77, ExitBudget)
	if c2.Retired() != 77 {
		t.Errorf("Run(77) retired %d", c2.Retired())
	}
	// 77 = mov + 25 iterations of 3 + 1 add: rip at dec
	if ex.RIP != codeBase+8 {
		t.Errorf("budget exit rip %#x, want %#x", ex.RIP, codeBase+8)
	}
}

// A looping guest allocates nothing and calls PhysMem not at all once
// its block is decoded and its pages are in the TLB.
func TestLoopNoAllocs(t *testing.T) {
	c, ram := newGuest(t, loopGuest(0xffffffff))
	run(t, c, 1000, ExitBudget) // warm up: decode, TLB fill
	calls := ram.calls
	allocs := testing.AllocsPerRun(100, func() {
		if ex := c.Run(10000); ex.Reason != ExitBudget {
			t.Fatalf("exit %v", ex.Reason)
		}
	})
	if allocs != 0 {
		t.Errorf("AllocsPerRun = %v, want 0", allocs)
	}
	if ram.calls != calls {
		t.Errorf("PhysMem.Page called %d times in steady state", ram.calls-calls)
	}
}

// Storing into the immediate of a later instruction in the running block
// takes effect (self-modifying code), as does patching another block.
func TestSelfModifyingCode(t *testing.T) {
	code := []byte{
		// mov byte ptr [rip+N], 0x42 : N targets the imm8 of "mov al, 0x11"
		0xc6, 0x05, 0x01, 0x00, 0x00, 0x00, 0x42,
		0x90,       // nop
		0xb0, 0x11, // mov al, 0x11
		0xf4,
	}
	// disp is relative to the end of the store (offset 7); the imm8 of
	// mov al is at offset 9, so disp = 2.
	code[2] = 2
	c, ram := newGuest(t, code)
	run(t, c, 100, ExitHLT)
	if got := reg(t, c, abi.VM_REG_GUEST_RAX) & 0xff; got != 0x42 {
		t.Errorf("al = %#x, want 0x42 (the patched immediate)", got)
	}
	if ram.b[codeBase+9] != 0x42 {
		t.Errorf("store did not reach RAM")
	}
	// Run it again from the top: the block decoded after the patch
	// holds 0x42 already; patch it back by the guest to 0x42 is idempotent.
	_ = c.SetReg(abi.VM_REG_GUEST_RIP, codeBase)
	_ = c.SetReg(abi.VM_REG_GUEST_RAX, 0)
	run(t, c, 100, ExitHLT)
	if got := reg(t, c, abi.VM_REG_GUEST_RAX) & 0xff; got != 0x42 {
		t.Errorf("second run al = %#x", got)
	}
}

// A loop that patches code in a different block on every iteration, while
// data stores to the same page keep working.
func TestSelfModifyingOtherBlock(t *testing.T) {
	code := []byte{
		0x31, 0xdb, // 0: xor ebx, ebx
		0xb9, 0x05, 0x00, 0x00, 0x00, // 2: mov ecx, 5
		// 7: loop: call f
		0xe8, 0x0d, 0x00, 0x00, 0x00,
		0x01, 0xc3, // 12: add ebx, eax
		0xfe, 0x05, 0x09, 0x00, 0x00, 0x00, // 14: inc byte ptr [rip+9] -> imm of f's mov (offset 26)
		0xe2, 0xf1, // 20: loop 7
		0xf4,             // 22: hlt
		0x90, 0x90, 0x90, // 23..25
		0xb8, 0x01, 0x00, 0x00, 0x00, // 26: f: mov eax, 1 (imm at 27)
		0xc3, // 31: ret
	}
	// call at 7, next 12, target 26: rel = 14
	code[8] = 14
	// inc at 14 (len 6), next 20, target 27: disp 7
	code[16] = 7
	c, _ := newGuest(t, code)
	run(t, c, 1000, ExitHLT)
	// eax = 1, 2, 3, 4, 5 → ebx = 15
	if got := reg(t, c, abi.VM_REG_GUEST_RBX); got != 15 {
		t.Errorf("rbx = %d, want 15", got)
	}
}

// The host rewrites guest RAM between Run calls (as through the cdev's
// mmap): the next Run sees the new code even though the old block was
// decoded and cached.
func TestHostModifiesRAMBetweenRuns(t *testing.T) {
	code := []byte{0xb8, 0x01, 0x00, 0x00, 0x00, 0xf4} // mov eax, 1; hlt
	c, ram := newGuest(t, code)
	run(t, c, 100, ExitHLT)
	if got := reg(t, c, abi.VM_REG_GUEST_RAX); got != 1 {
		t.Fatalf("rax = %d", got)
	}
	ram.b[codeBase+1] = 7 // host store: no CPU involvement
	_ = c.SetReg(abi.VM_REG_GUEST_RIP, codeBase)
	run(t, c, 100, ExitHLT)
	if got := reg(t, c, abi.VM_REG_GUEST_RAX); got != 7 {
		t.Errorf("after host patch rax = %d, want 7", got)
	}
	// Unchanged bytes: the cached block is reused (no re-decode): no
	// allocation on the re-run.
	_ = c.SetReg(abi.VM_REG_GUEST_RIP, codeBase)
	run(t, c, 100, ExitHLT)
	allocs := testing.AllocsPerRun(10, func() {
		_ = c.SetReg(abi.VM_REG_GUEST_RIP, codeBase)
		c.Run(100)
	})
	if allocs != 0 {
		t.Errorf("re-running a verified block allocated %v times", allocs)
	}
}

// With no IDT (limit 0), UD2 raises #UD, whose delivery raises #GP, whose
// delivery raises #DF, whose delivery fails: triple fault, RIP at UD2.
func TestTripleFaultNoIDT(t *testing.T) {
	c, _ := newGuest(t, []byte{0x90, 0x0f, 0x0b})
	ex := run(t, c, 100, ExitTripleFault)
	if ex.RIP != codeBase+1 {
		t.Errorf("exit rip %#x, want %#x (the UD2)", ex.RIP, codeBase+1)
	}
	if got := reg(t, c, abi.VM_REG_GUEST_RIP); got != codeBase+1 {
		t.Errorf("RIP %#x, want the UD2", got)
	}
	if c.Retired() != 1 {
		t.Errorf("retired %d, want 1 (the NOP only)", c.Retired())
	}
}

func TestTripleFaultOthers(t *testing.T) {
	for name, code := range map[string][]byte{
		"div0":   {0x31, 0xc9, 0xf7, 0xf1},                            // xor ecx,ecx; div ecx
		"pf":     {0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40},          // mov eax,[0x40000000]: beyond the 1 GiB map? no: aliases
		"gp":     {0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0xe0}, // mov rax, 0x8000000000000000; jmp rax
		"ud":     {0x0f, 0xff},                                        // UD0
		"int3":   {0xcc},
		"unimpl": {0x0f, 0x38, 0xc8, 0xc1}, // sha1nexte: SHA not implemented: #UD
	} {
		t.Run(name, func(t *testing.T) {
			c, ram := newGuest(t, code)
			if name == "pf" {
				ram.w64(0x2000+0, 0) // unmap everything below 512 GiB ...
				ram.w64(0x2000+8, 0)
				// ... but keep code reachable through PML4[0]? No: make a
				// private PML4 for this test instead.
				ram.w64(0x2000, 0x3000|7)
				ram.w64(0x3000+8, 0) // PDPT[1] (1-2 GiB) not present
			}
			ex := run(t, c, 100, ExitTripleFault)
			wantRIP := uint64(codeBase)
			switch name {
			case "div0":
				wantRIP = codeBase + 2
			case "gp":
				wantRIP = codeBase + 10
			}
			if ex.RIP != wantRIP {
				t.Errorf("rip %#x, want %#x", ex.RIP, wantRIP)
			}
		})
	}
}

func TestInOutExit(t *testing.T) {
	code := []byte{
		0xe4, 0x60, // in al, 0x60
		0xb0, 0x5a, // mov al, 0x5a
		0xe6, 0xf4, // out 0xf4, al
		0x66, 0xba, 0xf8, 0x03, // mov dx, 0x3f8
		0xed,       // in eax, dx
		0x66, 0xef, // out dx, ax
	}
	c, _ := newGuest(t, code)
	_ = c.SetReg(abi.VM_REG_GUEST_RAX, 0x11223344)
	want := []Exit{
		{Reason: ExitInOut, RIP: codeBase, InstLen: 2, Port: 0x60, Bytes: 1, In: true},
		{Reason: ExitInOut, RIP: codeBase + 4, InstLen: 2, Port: 0xf4, Bytes: 1, EAX: 0x5a},
		{Reason: ExitInOut, RIP: codeBase + 10, InstLen: 1, Port: 0x3f8, Bytes: 4, In: true},
		{Reason: ExitInOut, RIP: codeBase + 11, InstLen: 2, Port: 0x3f8, Bytes: 2, EAX: 0xbeef},
	}
	for i, w := range want {
		ex := c.Run(100)
		if ex.Insn != nil || ex.Err != nil {
			t.Errorf("exit %d carries Insn/Err", i)
		}
		ex.Insn, w.Insn = nil, nil
		if !exitEq(ex, w) {
			t.Errorf("exit %d = %+v, want %+v", i, ex, w)
		}
		if got := reg(t, c, abi.VM_REG_GUEST_RIP); got != w.RIP+uint64(w.InstLen) {
			t.Errorf("exit %d: RIP %#x, want past the instruction", i, got)
		}
		if i == 2 {
			// The caller merges IN data into RAX, as bhyve does.
			_ = c.SetReg(abi.VM_REG_GUEST_RAX, 0xdeadbeef)
		}
	}
}

func TestMMIOExit(t *testing.T) {
	code := []byte{
		0x90,                                     // nop
		0x8b, 0x04, 0x25, 0x00, 0x00, 0x80, 0x00, // mov eax, [0x800000]
	}
	c, _ := newGuest(t, code)
	ex := run(t, c, 100, ExitMMIO)
	if ex.RIP != codeBase+1 || ex.InstLen != 7 || ex.GPA != mmioAddr || ex.Write {
		t.Errorf("exit %+v", ex)
	}
	if string(ex.Insn) != string(code[1:]) {
		t.Errorf("Insn % x, want % x", ex.Insn, code[1:])
	}
	if c.Retired() != 1 || reg(t, c, abi.VM_REG_GUEST_RIP) != codeBase+1 {
		t.Errorf("MMIO instruction must not retire: retired %d rip %#x", c.Retired(), reg(t, c, abi.VM_REG_GUEST_RIP))
	}
	// A store, with a hole inside RAM.
	code = []byte{0xc7, 0x04, 0x25, 0x00, 0x30, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00} // mov dword [0x3000+...]
	code[3], code[4], code[5], code[6] = 0x08, 0x40, 0x09, 0x00                     // [0x94008]
	c, ram := newGuest(t, code)
	ram.holes[0x94000] = true
	ex = run(t, c, 100, ExitMMIO)
	if ex.GPA != 0x94008 || !ex.Write || ex.InstLen != len(code) {
		t.Errorf("store exit %+v", ex)
	}
}

func TestMSRs(t *testing.T) {
	code := []byte{
		0x0f, 0x32, // rdmsr  (ECX = APIC_BASE)
		0x0f, 0x30, // wrmsr  (ECX = 0x3a, unknown)
		0x0f, 0x32, // rdmsr  (ECX = 0x3a, unknown)
		0x0f, 0x30, // wrmsr  LSTAR
		0x0f, 0x32, // rdmsr LSTAR
		0xf4,
	}
	c, _ := newGuest(t, code)
	_ = c.SetReg(abi.VM_REG_GUEST_RCX, 0x1b)
	ex := c.Run(1)
	if ex.Reason != ExitBudget || reg(t, c, abi.VM_REG_GUEST_RAX) != 0xfee00900 || reg(t, c, abi.VM_REG_GUEST_RDX) != 0 {
		t.Errorf("APIC_BASE: %v rax %#x", ex.Reason, reg(t, c, abi.VM_REG_GUEST_RAX))
	}
	_ = c.SetReg(abi.VM_REG_GUEST_RCX, 0x3a)
	_ = c.SetReg(abi.VM_REG_GUEST_RDX, 0x12)
	_ = c.SetReg(abi.VM_REG_GUEST_RAX, 0x345)
	ex = run(t, c, 10, ExitWRMSR)
	if ex.MSR != 0x3a || ex.MSRVal != 0x12_00000345 || ex.RIP != codeBase+2 || ex.InstLen != 2 || reg(t, c, abi.VM_REG_GUEST_RIP) != codeBase+4 {
		t.Errorf("WRMSR exit %+v", ex)
	}
	ex = run(t, c, 10, ExitRDMSR)
	if ex.MSR != 0x3a || reg(t, c, abi.VM_REG_GUEST_RIP) != codeBase+6 {
		t.Errorf("RDMSR exit %+v", ex)
	}
	_ = c.SetReg(abi.VM_REG_GUEST_RCX, 0xc0000082)
	_ = c.SetReg(abi.VM_REG_GUEST_RDX, 0xffffffff)
	_ = c.SetReg(abi.VM_REG_GUEST_RAX, 0x80001000)
	run(t, c, 10, ExitHLT)
	if got := reg(t, c, abi.VM_REG_GUEST_RDX)<<32 | reg(t, c, abi.VM_REG_GUEST_RAX); got != 0xffffffff80001000 {
		t.Errorf("LSTAR round trip %#x", got)
	}
	c2 := New(&testRAM{}, 1)
	if v, _, _ := c2.rdmsr(0x1b); v != 0xfee00800 {
		t.Errorf("AP APIC_BASE %#x, want 0xfee00800 (no BSP bit)", v)
	}
}

func TestCPUID(t *testing.T) {
	c, _ := newGuest(t, []byte{0x0f, 0xa2, 0xf4})
	c.vcpuid = 3
	check := func(leaf uint32, a, b, cx, d uint32) {
		t.Helper()
		_ = c.SetReg(abi.VM_REG_GUEST_RIP, codeBase)
		_ = c.SetReg(abi.VM_REG_GUEST_RAX, uint64(leaf))
		_ = c.SetReg(abi.VM_REG_GUEST_RCX, 0)
		run(t, c, 10, ExitHLT)
		got := [4]uint64{reg(t, c, abi.VM_REG_GUEST_RAX), reg(t, c, abi.VM_REG_GUEST_RBX), reg(t, c, abi.VM_REG_GUEST_RCX), reg(t, c, abi.VM_REG_GUEST_RDX)}
		want := [4]uint64{uint64(a), uint64(b), uint64(cx), uint64(d)}
		if got != want {
			t.Errorf("cpuid %#x = %#x, want %#x", leaf, got, want)
		}
	}
	le := func(s string) uint32 { return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24 }
	check(0, 0xd, le("Soft"), le("oCPU"), le("vmmG"))
	// ECX: SSE3 PCLMULQDQ SSSE3 CX16 SSE4.1 SSE4.2 MOVBE POPCNT AES XSAVE RDRAND
	// HYPERVISOR; EDX: FPU PSE TSC MSR PAE CX8 SEP PGE CMOV CLFSH MMX FXSR
	// SSE SSE2 (no LAPIC attached here, so no APIC bit).
	check(1, 0x6f1, 3<<24|1<<16|8<<8, 1<<31|1<<30|1<<26|1<<25|1<<23|1<<22|1<<20|1<<19|1<<13|1<<9|1<<1|1<<0,
		1<<0|1<<3|1<<4|1<<5|1<<6|1<<8|1<<11|1<<13|1<<15|1<<19|1<<23|1<<24|1<<25|1<<26)
	check(0x40000000, 0x40000000, le("bhyv"), le("e bh"), le("yve "))
	check(0x80000001, 0, 0, 1|1<<5, 1<<11|1<<20|1<<26|1<<27|1<<29)
	check(0x80000002, le("soft"), le("vmm "), le("x86-"), le("64 i"))
	check(7, 0, 0, 0, 0)
}

func TestRegisterAPI(t *testing.T) {
	c, _ := newGuest(t, nil)
	for _, r := range []int32{-1, -0x7fffffff, abi.VM_REG_LAST, 100, abi.VM_REG_GUEST_IDTR, abi.VM_REG_GUEST_GDTR, abi.VM_REG_GUEST_PDPTE0} {
		if _, err := c.Reg(r); !errors.Is(err, abi.EINVAL) {
			t.Errorf("Reg(%d) err %v, want EINVAL", r, err)
		}
	}
	for _, r := range []int32{-1, abi.VM_REG_LAST, abi.VM_REG_GUEST_IDTR} {
		if err := c.SetReg(r, 0); !errors.Is(err, abi.EINVAL) {
			t.Errorf("SetReg(%d) err %v, want EINVAL", r, err)
		}
	}
	if err := c.SetReg(abi.VM_REG_GUEST_INTR_SHADOW, 1); !errors.Is(err, abi.EINVAL) {
		t.Errorf("INTR_SHADOW=1: %v, want EINVAL", err)
	}
	if err := c.SetReg(abi.VM_REG_GUEST_INTR_SHADOW, 0); err != nil {
		t.Errorf("INTR_SHADOW=0: %v", err)
	}
	_ = c.SetReg(abi.VM_REG_GUEST_RFLAGS, 0)
	if got := reg(t, c, abi.VM_REG_GUEST_RFLAGS); got != 2 {
		t.Errorf("RFLAGS after writing 0 = %#x, want 2", got)
	}
	_ = c.SetReg(abi.VM_REG_GUEST_RFLAGS, ^uint64(0))
	if got := reg(t, c, abi.VM_REG_GUEST_RFLAGS); got != 0x3f7fd7 {
		t.Errorf("RFLAGS after writing ~0 = %#x, want 0x3f7fd7", got)
	}
	if got := reg(t, c, abi.VM_REG_GUEST_CS); got != 8 {
		t.Errorf("CS selector %#x", got)
	}
	for _, r := range []int32{abi.VM_REG_GUEST_RAX, abi.VM_REG_GUEST_CR0, abi.VM_REG_GUEST_RIP, -1, abi.VM_REG_LAST} {
		if _, err := c.Desc(r); !errors.Is(err, abi.EINVAL) {
			t.Errorf("Desc(%d) err %v", r, err)
		}
		if err := c.SetDesc(r, abi.SegDesc{}); !errors.Is(err, abi.EINVAL) {
			t.Errorf("SetDesc(%d) err %v", r, err)
		}
	}
	d, err := c.Desc(abi.VM_REG_GUEST_GDTR)
	if err != nil || d != (abi.SegDesc{Base: 0x5000, Limit: 23}) {
		t.Errorf("GDTR %+v %v", d, err)
	}
	// Every GPR round-trips through its own vm_reg_name.
	for r := abi.VM_REG_GUEST_RAX; r <= abi.VM_REG_GUEST_R15; r++ {
		_ = c.SetReg(r, uint64(r)*0x1111)
	}
	_ = c.SetReg(abi.VM_REG_GUEST_RSP, 0x4444)
	for r := abi.VM_REG_GUEST_RAX; r <= abi.VM_REG_GUEST_R15; r++ {
		if got := reg(t, c, r); got != uint64(r)*0x1111 {
			t.Errorf("reg %d = %#x", r, got)
		}
	}
	// vm_reg_name order is RAX RBX RCX RDX; the hardware order is RAX RCX RDX RBX.
	if c.r[rBX] != 1*0x1111 || c.r[rCX] != 2*0x1111 {
		t.Errorf("vm_reg_name mapping wrong: rbx %#x rcx %#x", c.r[rBX], c.r[rCX])
	}
	// Power-on state (reference/vmm-interface.md §14.3).
	p := New(&testRAM{}, 0)
	if reg(t, p, abi.VM_REG_GUEST_RIP) != 0xfff0 || reg(t, p, abi.VM_REG_GUEST_RDX) != 0xf00 ||
		reg(t, p, abi.VM_REG_GUEST_CR0) != 0x20 || reg(t, p, abi.VM_REG_GUEST_CS) != 0xf000 {
		t.Errorf("power-on state wrong")
	}
	// The first fetch is at the reset vector, CS.base 0xffff0000 + IP
	// 0xfff0, where this RAM has nothing.
	if ex := p.Run(10); ex.Reason != ExitMMIO || ex.GPA != 0xfffffff0 {
		t.Errorf("real mode run: %v at %#x, want ExitMMIO at the reset vector", ex.Reason, ex.GPA)
	}
}

func exitEq(a, b Exit) bool {
	a.Insn, b.Insn, a.Err, b.Err = nil, nil, nil, nil
	return a.Reason == b.Reason && a.RIP == b.RIP && a.InstLen == b.InstLen && a.Port == b.Port &&
		a.Bytes == b.Bytes && a.In == b.In && a.EAX == b.EAX && a.GPA == b.GPA && a.Write == b.Write &&
		a.MSR == b.MSR && a.MSRVal == b.MSRVal
}

type panicRAM struct{ *testRAM }

func (p panicRAM) Page(gpa uint64) ([]byte, int) {
	if gpa == 0x20000 {
		panic("backing store exploded")
	}
	return p.testRAM.Page(gpa)
}

// An internal failure (here a panicking PhysMem) ends Run with ExitError
// carrying the RIP, the instruction bytes and an error; it never escapes
// as a Go panic.
func TestInternalErrorIsExitError(t *testing.T) {
	code := []byte{0x8b, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00} // mov eax, [0x20000]
	c, ram := newGuest(t, code)
	c.mem = panicRAM{ram}
	ex := c.Run(10)
	if ex.Reason != ExitError || ex.Err == nil || ex.RIP != codeBase {
		t.Fatalf("exit %+v", ex)
	}
	if string(ex.Insn[:len(code)]) != string(code) {
		t.Errorf("Insn % x", ex.Insn)
	}
}

// STI sets the interrupt shadow for exactly one instruction
// (reference/vmm-interface.md §4.1 INTR_SHADOW); a host write of 0 clears it.
func TestInterruptShadow(t *testing.T) {
	c, _ := newGuest(t, []byte{0xfb, 0x90, 0x90, 0xfb, 0xf4}) // sti; nop; nop; sti; hlt
	if reg(t, c, abi.VM_REG_GUEST_RFLAGS)&flagIF != 0 {
		t.Fatalf("IF set before STI")
	}
	run(t, c, 1, ExitBudget)
	if reg(t, c, abi.VM_REG_GUEST_INTR_SHADOW) != 1 {
		t.Errorf("shadow not set after STI")
	}
	if reg(t, c, abi.VM_REG_GUEST_RFLAGS)&flagIF == 0 {
		t.Errorf("IF clear after STI") // SDM STI: IF <- 1
	}
	run(t, c, 1, ExitBudget)
	if reg(t, c, abi.VM_REG_GUEST_INTR_SHADOW) != 0 || c.Retired() != 2 {
		t.Errorf("shadow still set after one instruction (retired %d)", c.Retired())
	}
	run(t, c, 2, ExitBudget) // nop; sti with IF already 1: no shadow
	if reg(t, c, abi.VM_REG_GUEST_INTR_SHADOW) != 0 {
		t.Errorf("STI with IF=1 must not block")
	}
	_ = c.SetReg(abi.VM_REG_GUEST_RFLAGS, 2)
	_ = c.SetReg(abi.VM_REG_GUEST_RIP, codeBase)
	run(t, c, 1, ExitBudget)
	if err := c.SetReg(abi.VM_REG_GUEST_INTR_SHADOW, 0); err != nil || reg(t, c, abi.VM_REG_GUEST_INTR_SHADOW) != 0 {
		t.Errorf("clearing the shadow: %v", err)
	}
}
