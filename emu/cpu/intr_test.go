package cpu

import (
	"testing"

	"softvmm/emu/abi"
)

// Interrupt delivery (intr.go) against a fake controller. Every handler
// slot v of the IDT records v in R14 and the pushed RIP in R13, counts in
// R15 and IRETs (SDM vol. 3 §6.12: an interrupt gate pushes the address
// of the next instruction to execute).

type fakeCtl struct {
	pend   []uint8 // deliverable vectors, best first
	acked  []uint8
	cr8    uint64
	tsc    uint64
	setCR8 []uint64
}

func (f *fakeCtl) PendingIntr() (uint8, bool) {
	if len(f.pend) == 0 || uint64(f.pend[0]>>4) <= f.cr8 {
		return 0, false
	}
	return f.pend[0], true
}

func (f *fakeCtl) IntrAccepted(v uint8) {
	f.acked = append(f.acked, v)
	f.pend = f.pend[1:]
}

func (f *fakeCtl) CR8() uint64 { return f.cr8 }
func (f *fakeCtl) SetCR8(v uint64) error {
	f.setCR8 = append(f.setCR8, v)
	f.cr8 = v
	return nil
}
func (f *fakeCtl) TSC() uint64  { return f.tsc }
func (f *fakeCtl) X2APIC() bool { return false }

func newIntrGuest(t *testing.T, code []byte) (*CPU, *fakeCtl, *IntrLine, *testRAM) {
	t.Helper()
	c, ram := newGuest(t, code)
	setIDT(t, c, ram, handlerVA)
	// The handlers IRETQ, which loads SS from the GDT and needs writable
	// data there; bhyveload's data descriptor (§14.1) is read-only, so
	// do what a kernel does first: give SS a writable one.
	ram.w64(0x5010, 0x0000920000000000)
	for v := uint64(0); v < 256; v++ {
		h := handlerVA + v*16
		slot := []byte{0x41, 0xbe, byte(v), 0, 0, 0, // mov $v, %r14d
			0x4c, 0x8b, 0x2c, 0x24, // mov (%rsp), %r13
			0x41, 0xff, 0xc7, // inc %r15d
			0x48, 0xcf} // iretq
		copy(ram.b[h:], slot)
	}
	f := &fakeCtl{}
	l := &IntrLine{}
	c.AttachIntr(f, l)
	return c, f, l, ram
}

const (
	insSti  = 0xfb
	insCli  = 0xfa
	insHlt  = 0xf4
	insNop  = 0x90
	movEAX1 = 0xb8 // + imm32: mov $imm, %eax (5 bytes)
)

var movEax1 = []byte{movEAX1, 1, 0, 0, 0}

func TestIntrRespectsIFAndSTIShadow(t *testing.T) {
	// cli-state nops, then sti; mov $1,%eax; nop; hlt
	code := cat([]byte{insNop, insNop, insSti}, movEax1, []byte{insNop, insHlt})
	c, f, l, _ := newIntrGuest(t, code)
	f.pend = []uint8{0x40}
	l.Raise()
	// IF = 0: the two nops run, nothing is delivered.
	run(t, c, 2, ExitBudget)
	if reg(t, c, abi.VM_REG_GUEST_R15) != 0 {
		t.Fatal("interrupt delivered with IF = 0")
	}
	// sti, then the shadow covers mov; the interrupt comes before nop.
	// (sti, mov, then the handler's four instructions)
	run(t, c, 6, ExitBudget)
	if got := reg(t, c, abi.VM_REG_GUEST_R15); got != 1 {
		t.Fatalf("%d interrupts, want 1", got)
	}
	if r14, r13 := reg(t, c, abi.VM_REG_GUEST_R14), reg(t, c, abi.VM_REG_GUEST_R13); r14 != 0x40 || r13 != codeBase+3+5 {
		t.Fatalf("vector %#x at return rip %#x, want 0x40 at %#x", r14, r13, codeBase+3+5)
	}
	if len(f.acked) != 1 || f.acked[0] != 0x40 {
		t.Fatalf("accepted %v", f.acked)
	}
	if reg(t, c, abi.VM_REG_GUEST_RAX) != 1 {
		t.Fatal("the instruction in the STI shadow did not run first")
	}
	// After IRET the handler is done and nothing more is pending: the
	// guest reaches hlt.
	run(t, c, 100, ExitHLT)
}

func TestIntrMovSSShadow(t *testing.T) {
	// xor %eax,%eax; mov %eax,%ss (a null SS is legal at CPL 0 in 64-bit
	// mode); mov $1,%eax  (IF already 1)
	code := cat([]byte{0x31, 0xc0, 0x8e, 0xd0}, movEax1, []byte{insHlt})
	c, f, l, _ := newIntrGuest(t, code)
	c.SetReg(abi.VM_REG_GUEST_RFLAGS, 0x202)
	run(t, c, 2, ExitBudget) // both movs: the MOV SS shadow is now active
	f.pend = []uint8{0x50}
	l.Raise()
	// The shadow covers the next mov, so the interrupt returns to hlt.
	run(t, c, 5, ExitBudget)
	if r13 := reg(t, c, abi.VM_REG_GUEST_R13); r13 != codeBase+4+5 {
		t.Fatalf("interrupt returned to %#x, want %#x (after the shadowed mov)", r13, codeBase+4+5)
	}
}

func TestIntrTPRViaCR8(t *testing.T) {
	// mov $5,%rax; mov %rax,%cr8; mov %cr8,%rbx; sti; nop; mov $0,%rax; mov %rax,%cr8; nop; hlt
	// mov %rax,%cr8 = 44 0f 22 c0; mov %cr8,%rbx = 44 0f 20 c3
	code := []byte{0x48, 0xc7, 0xc0, 5, 0, 0, 0, 0x44, 0x0f, 0x22, 0xc0, 0x44, 0x0f, 0x20, 0xc3,
		insSti, insNop, insNop,
		0x48, 0xc7, 0xc0, 0, 0, 0, 0, 0x44, 0x0f, 0x22, 0xc0, insNop, insHlt}
	c, f, l, _ := newIntrGuest(t, code)
	f.pend = []uint8{0x52} // class 5: masked by TPR 5
	run(t, c, 5, ExitBudget)
	if len(f.setCR8) != 1 || f.setCR8[0] != 5 || reg(t, c, abi.VM_REG_GUEST_RBX) != 5 {
		t.Fatalf("SetCR8 calls %v, rbx %d", f.setCR8, reg(t, c, abi.VM_REG_GUEST_RBX))
	}
	l.Raise()
	run(t, c, 2, ExitBudget) // the two nops after sti
	if reg(t, c, abi.VM_REG_GUEST_R15) != 0 {
		t.Fatal("vector of class 5 delivered above TPR 5")
	}
	// Lowering TPR raises the line itself: delivered before the last nop.
	run(t, c, 3, ExitBudget)
	if len(f.acked) != 1 || reg(t, c, abi.VM_REG_GUEST_R14) != 0x52 {
		t.Fatalf("accepted %v after lowering TPR, want [0x52]", f.acked)
	}
}

func TestIntrNMIBlockedUntilIRET(t *testing.T) {
	code := []byte{insNop, insNop, insNop, insNop, insNop, insNop, insHlt}
	c, _, l, _ := newIntrGuest(t, code)
	l.RaiseNMI() // IF = 0 does not block an NMI
	run(t, c, 1, ExitBudget)
	if reg(t, c, abi.VM_REG_GUEST_R14) != 2 || !c.NMIBlocked() {
		t.Fatalf("vector %d, blocked %v: want NMI (2) delivered and blocking", reg(t, c, abi.VM_REG_GUEST_R14), c.NMIBlocked())
	}
	// A second NMI while the handler runs waits for its IRET.
	l.RaiseNMI()
	run(t, c, 2, ExitBudget) // mov (%rsp),%r13; inc %r15d
	if got := reg(t, c, abi.VM_REG_GUEST_R15); got != 1 {
		t.Fatalf("nested NMI delivered: %d", got)
	}
	run(t, c, 1, ExitBudget) // iretq: unblocks, the NMI comes at once
	if !l.NMIPending() && reg(t, c, abi.VM_REG_GUEST_R14) != 2 {
		t.Fatal("second NMI lost")
	}
	run(t, c, 4, ExitBudget)
	if got := reg(t, c, abi.VM_REG_GUEST_R15); got != 2 {
		t.Fatalf("%d NMIs after IRET, want 2", got)
	}
}

func TestIntrWakesAfterHLT(t *testing.T) {
	code := []byte{insSti, insHlt, insNop, insHlt}
	c, f, l, _ := newIntrGuest(t, code)
	run(t, c, 10, ExitHLT)
	f.pend = []uint8{0x60}
	l.Raise()
	run(t, c, 10, ExitHLT)
	if r13 := reg(t, c, abi.VM_REG_GUEST_R13); reg(t, c, abi.VM_REG_GUEST_R15) != 1 || r13 != codeBase+2 {
		t.Fatalf("interrupt after HLT returned to %#x, want %#x", r13, codeBase+2)
	}
}

func TestInjectEventIgnoresIF(t *testing.T) {
	code := []byte{insNop, insNop, insHlt}
	c, _, _, ram := newIntrGuest(t, code)
	c.InjectEvent(13, 0x18, true, false)
	run(t, c, 1, ExitBudget) // the handler's first instruction
	if r14 := reg(t, c, abi.VM_REG_GUEST_R14); r14 != 13 {
		t.Fatalf("vector %d, want #GP", r14)
	}
	if err := ram.r64(stackTop - 48); err != 0x18 {
		t.Fatalf("error code %#x on the stack, want 0x18", err)
	}
	if _, _, _, _, ok := c.PendingEvent(); ok {
		t.Fatal("event still pending after delivery")
	}
}

func TestRDTSCReadsController(t *testing.T) {
	c, f, _, _ := newIntrGuest(t, []byte{0x0f, 0x31, insHlt})
	f.tsc = 0x1122334455
	run(t, c, 10, ExitHLT)
	if reg(t, c, abi.VM_REG_GUEST_RAX) != 0x22334455 || reg(t, c, abi.VM_REG_GUEST_RDX) != 0x11 {
		t.Fatal("RDTSC did not read the controller's clock")
	}
}

// An idle line costs no allocation.
func TestIntrLineNoAlloc(t *testing.T) {
	code := cat([]byte{insSti}, []byte{0xeb, 0xfe}) // sti; jmp .
	c, _, l, _ := newIntrGuest(t, code)
	c.Run(10)
	if n := testing.AllocsPerRun(20, func() { l.Raise(); c.Run(1000) }); n != 0 {
		t.Fatalf("%v allocations per Run with the line raised", n)
	}
}

// RDTSC reads the retired count at its own instruction even in the middle
// of a block (whose count is otherwise settled only at its end).
func TestRDTSCExactInBlock(t *testing.T) {
	c, _ := newGuest(t, []byte{insNop, insNop, insNop, 0x0f, 0x31, insNop, insHlt})
	run(t, c, 100, ExitHLT)
	if got := reg(t, c, abi.VM_REG_GUEST_RAX); got != 3 {
		t.Fatalf("RDTSC after 3 instructions read %d", got)
	}
}

// A kick ends Run at the next boundary (here before the REP starts) with
// Kicked set and the REP's progress in RCX/RDI, and the next Run goes on
// from there; the line is lowered again when nothing else waits on it.
func TestKickEndsRunAtBoundary(t *testing.T) {
	// mov rcx, 1<<40; mov edi, dataBase; rep stosb
	c, _ := newGuest(t, []byte{0x48, 0xb9, 0, 0, 0, 0, 0, 1, 0, 0, 0xbf, 0, 0, 2, 0, 0xf3, 0xaa})
	var line IntrLine
	c.AttachIntr(nil, &line)
	if ex := c.Run(2); ex.Reason != ExitBudget || ex.Kicked || c.rip != codeBase+15 {
		t.Fatalf("exit %+v rip %#x", ex, c.rip)
	}
	line.Kick()
	ex := c.Run(1 << 30)
	if ex.Reason != ExitBudget || !ex.Kicked || c.rip != codeBase+15 || c.Retired() != 2 {
		t.Fatalf("after a kick: exit %+v rip %#x retired %d", ex, c.rip, c.Retired())
	}
	if line.pending.Load() != 0 {
		t.Error("the kick left the line raised with nothing to deliver")
	}
	if ex := c.Run(3); ex.Reason != ExitBudget || ex.Kicked {
		t.Fatalf("the kick was not consumed: exit %+v", ex)
	}
	if done := uint64(1)<<40 - c.r[rCX]; done != 3*repChunk {
		t.Errorf("%d iterations done after the kick, want %d", done, 3*repChunk)
	}
}
