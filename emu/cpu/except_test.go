package cpu

import (
	"testing"

	"softvmm/emu/abi"
)

// Handlers for every vector are "hlt" stubs at handlerVA + vector*16.
func withHandlers(t *testing.T, code []byte) (*CPU, *testRAM) {
	c, ram := newGuest(t, code)
	setIDT(t, c, ram, handlerVA)
	for v := uint64(0); v < 256; v++ {
		ram.b[handlerVA+v*16] = 0xf4
	}
	return c, ram
}

// frame reads the interrupt frame at RSP: [err], RIP, CS, RFLAGS, RSP, SS.
func frame(c *CPU, ram *testRAM, hasErr bool) (err uint64, f [5]uint64) {
	sp := c.r[rSP]
	if hasErr {
		err = ram.r64(sp)
		sp += 8
	}
	for i := range f {
		f[i] = ram.r64(sp + uint64(i)*8)
	}
	return
}

func TestExceptionDE(t *testing.T) {
	c, ram := withHandlers(t, []byte{0x90, 0x31, 0xd2, 0xf7, 0xf2, 0xf4}) // nop; xor edx,edx; div edx
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != handlerVA+vecDE*16 {
		t.Fatalf("halted at %#x, want the #DE handler", ex.RIP)
	}
	_, f := frame(c, ram, false)
	want := [5]uint64{codeBase + 3, 8, f[2], stackTop, 0x10}
	if f != want {
		t.Errorf("frame %#x, want %#x", f, want)
	}
	if c.r[rSP] != stackTop-40 {
		t.Errorf("rsp %#x", c.r[rSP])
	}
	// nop, xor retired; div did not; hlt did.
	if c.Retired() != 3 {
		t.Errorf("retired %d, want 3", c.Retired())
	}
	if reg(t, c, abi.VM_REG_GUEST_RFLAGS)&flagIF != 0 {
		t.Errorf("interrupt gate must clear IF")
	}
}

func TestExceptionPF(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
		err  uint64
	}{
		{"read", []byte{0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40}, 0},
		{"write", []byte{0x48, 0x89, 0x04, 0x25, 0x08, 0x00, 0x00, 0x40}, pfW},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := withHandlers(t, tc.code)
			ram.w64(0x3000+8, 0) // PDPT[1]: 1-2 GiB not present
			c.FlushCaches()
			ex := run(t, c, 100, ExitHLT)
			if ex.RIP != handlerVA+vecPF*16 {
				t.Fatalf("halted at %#x, want the #PF handler", ex.RIP)
			}
			e, f := frame(c, ram, true)
			if e != tc.err || f[0] != codeBase {
				t.Errorf("error code %#x rip %#x, want %#x %#x", e, f[0], tc.err, codeBase)
			}
			want := uint64(0x40000000)
			if tc.name == "write" {
				want += 8
			}
			if got := reg(t, c, abi.VM_REG_GUEST_CR2); got != want {
				t.Errorf("CR2 %#x, want %#x", got, want)
			}
		})
	}
}

func TestExceptionGPNonCanonical(t *testing.T) {
	c, ram := withHandlers(t, []byte{0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x48, 0x8b, 0x00})
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != handlerVA+vecGP*16 {
		t.Fatalf("halted at %#x, want #GP handler", ex.RIP)
	}
	if e, f := frame(c, ram, true); e != 0 || f[0] != codeBase+10 {
		t.Errorf("err %#x rip %#x", e, f[0])
	}
}

// INT n pushes the next RIP; IRETQ returns there.
func TestIntIret(t *testing.T) {
	code := []byte{0xcd, 0x80, 0xb0, 0x07, 0xf4} // int 0x80; mov al, 7; hlt
	c, ram := withHandlers(t, code)
	// IRETQ loads SS and checks it is writable data (SDM IRET); the
	// bhyveload GDT's data descriptor (§14.1) is read-only.
	ram.w64(0x5010, 0x0000920000000000)
	copy(ram.b[handlerVA+0x80*16:], []byte{0xb3, 0x05, 0x48, 0xcf}) // mov bl, 5; iretq
	_ = c.SetReg(abi.VM_REG_GUEST_RFLAGS, 0x202)
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != codeBase+4 || c.r[rAX]&0xff != 7 || c.r[rBX]&0xff != 5 {
		t.Errorf("exit rip %#x al %d bl %d", ex.RIP, c.r[rAX]&0xff, c.r[rBX]&0xff)
	}
	if c.r[rSP] != stackTop {
		t.Errorf("rsp %#x after iretq", c.r[rSP])
	}
	if reg(t, c, abi.VM_REG_GUEST_RFLAGS)&flagIF == 0 {
		t.Errorf("iretq must restore IF")
	}
	if c.Retired() != 5 {
		t.Errorf("retired %d, want 5", c.Retired())
	}
	// INT n through a gate with DPL 0 from CPL 3 is #GP(vector*8+2).
}

// A #PF while pushing the #UD frame, then again for the #PF frame, is a
// #DF; with an IST stack for #DF it is delivered there.
func TestDoubleFaultIST(t *testing.T) {
	c, ram := withHandlers(t, []byte{0x0f, 0x0b})
	ram.w64(0x3000+8, 0) // 1-2 GiB not present
	_ = c.SetReg(abi.VM_REG_GUEST_RSP, 0x40000100)
	// gate 8 uses IST1
	ram.w64(idtBase+8*16, ram.r64(idtBase+8*16)|1<<32)
	ram.w64(tssBase+0x24, 0x70000)
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != handlerVA+vecDF*16 {
		t.Fatalf("halted at %#x, want #DF handler", ex.RIP)
	}
	e, f := frame(c, ram, true)
	if e != 0 || f[0] != codeBase || f[3] != 0x40000100 {
		t.Errorf("#DF err %#x frame %#x", e, f)
	}
	if c.r[rSP] != 0x70000-48 {
		t.Errorf("rsp %#x, want IST stack", c.r[rSP])
	}
	// Without IST the #DF push faults too: triple fault.
	c, ram = withHandlers(t, []byte{0x0f, 0x0b})
	ram.w64(0x3000+8, 0)
	_ = c.SetReg(abi.VM_REG_GUEST_RSP, 0x40000100)
	run(t, c, 100, ExitTripleFault)
}

// SYSCALL to a 64-bit kernel entry, SYSRET to ring 3, where HLT is
// privileged (#GP), and SYSCALL back.
func TestSyscallSysret(t *testing.T) {
	user := uint64(codeBase + 0x100)
	kern := uint64(codeBase + 0x200)
	code := []byte{
		0xb9, 0x80, 0x00, 0x00, 0xc0, // mov ecx, EFER
		0x0f, 0x32, // rdmsr
		0x83, 0xc8, 0x01, // or eax, 1 (SCE)
		0x0f, 0x30, // wrmsr
		0xb9, 0x82, 0x00, 0x00, 0xc0, // mov ecx, LSTAR
		0xb8, byte(kern), byte(kern >> 8), byte(kern >> 16), 0, // mov eax, kern
		0x31, 0xd2, // xor edx, edx
		0x0f, 0x30, // wrmsr
		0xb9, 0x81, 0x00, 0x00, 0xc0, // mov ecx, STAR
		0x31, 0xc0, // xor eax, eax
		0xba, 0x08, 0x00, 0x18, 0x00, // mov edx, 0x00180008: SYSCALL CS 8, SYSRET base 0x18
		0x0f, 0x30, // wrmsr
		0xb9, byte(user), byte(user >> 8), byte(user >> 16), 0, // mov ecx, user
		0x41, 0xbb, 0x02, 0x02, 0x00, 0x00, // mov r11d, 0x202
		0x48, 0x0f, 0x07, // sysretq
	}
	c, ram := withHandlers(t, code)
	copy(ram.b[user:], []byte{0xbe, 0x2a, 0x00, 0x00, 0x00, 0x0f, 0x05}) // mov esi, 42; syscall
	copy(ram.b[kern:], []byte{0xf4})                                     // hlt
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != kern {
		t.Fatalf("halted at %#x, want kernel entry %#x", ex.RIP, kern)
	}
	if c.r[rSI] != 42 || c.r[rCX] != user+7 || c.r[r11]&flagIF == 0 {
		t.Errorf("rsi %d rcx %#x r11 %#x", c.r[rSI], c.r[rCX], c.r[r11])
	}
	if cs := reg(t, c, abi.VM_REG_GUEST_CS); cs != 8 {
		t.Errorf("CS %#x after syscall", cs)
	}
	// Ring 3: HLT is #GP(0).
	c, ram = withHandlers(t, code)
	copy(ram.b[user:], []byte{0xf4})
	ram.w64(tssBase+4, 0x60000) // TSS.RSP0
	ex = run(t, c, 100, ExitHLT)
	if ex.RIP != handlerVA+vecGP*16 {
		t.Fatalf("ring-3 hlt: halted at %#x, want #GP handler", ex.RIP)
	}
	if _, f := frame(c, ram, true); f[0] != user || f[1] != 0x2b {
		t.Errorf("frame %#x, want rip %#x cs 0x2b", f, user)
	}
	// The #GP came from ring 3: the stack switched to TSS.RSP0.
	if c.r[rSP] != 0x60000-48 {
		t.Errorf("rsp %#x, want TSS.RSP0-48", c.r[rSP])
	}
	if cs := reg(t, c, abi.VM_REG_GUEST_CS); cs != 8 {
		t.Errorf("CS %#x in the handler", cs)
	}
}

func TestDescriptorTables(t *testing.T) {
	code := []byte{
		0x0f, 0x01, 0x14, 0x25, 0x00, 0x00, 0x02, 0x00, // lgdt [0x20000]
		0x0f, 0x01, 0x04, 0x25, 0x10, 0x00, 0x02, 0x00, // sgdt [0x20010]
		0x0f, 0x01, 0x1c, 0x25, 0x20, 0x00, 0x02, 0x00, // lidt [0x20020]
		0x0f, 0x01, 0x0c, 0x25, 0x30, 0x00, 0x02, 0x00, // sidt [0x20030]
		0xf4,
	}
	c, ram := newGuest(t, code)
	// 64-bit mode loads and stores all 8 bytes of the base (SDM LGDT/LIDT,
	// SGDT/SIDT): bases with bits 63:32 set catch a truncation. Nothing
	// between LGDT and HLT uses the tables.
	gdt := []byte{0x17, 0, 0x00, 0x50, 0x34, 0x12, 0x00, 0x80, 0xff, 0xff}    // limit 23 base 0xffff8000_12345000
	idt := []byte{0xff, 0x0f, 0x00, 0x60, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00} // limit 0xfff base 0x1_0000_6000
	copy(ram.b[0x20000:], gdt)
	copy(ram.b[0x20020:], idt)
	for i := 0x20010; i < 0x2001a; i++ {
		ram.b[i], ram.b[i+0x20] = 0x5a, 0x5a
	}
	run(t, c, 100, ExitHLT)
	if d, _ := c.Desc(abi.VM_REG_GUEST_GDTR); d.Base != 0xffff800012345000 || d.Limit != 0x17 {
		t.Errorf("gdtr %+v", d)
	}
	if string(ram.b[0x20010:0x2001a]) != string(gdt) {
		t.Errorf("sgdt % x, want % x", ram.b[0x20010:0x2001a], gdt)
	}
	if d, _ := c.Desc(abi.VM_REG_GUEST_IDTR); d.Base != 0x100006000 || d.Limit != 0xfff {
		t.Errorf("idtr %+v", d)
	}
	if string(ram.b[0x20030:0x2003a]) != string(idt) {
		t.Errorf("sidt % x, want % x", ram.b[0x20030:0x2003a], idt)
	}
}

func TestControlRegisters(t *testing.T) {
	// mov rax, cr4; or eax, 0x80 (PGE); mov cr4, rax; mov rbx, cr4; hlt
	c, _ := newGuest(t, []byte{0x0f, 0x20, 0xe0, 0x0d, 0x80, 0, 0, 0, 0x0f, 0x22, 0xe0, 0x0f, 0x20, 0xe3, 0xf4})
	run(t, c, 100, ExitHLT)
	if c.r[rBX] != 0xa0 || c.cr4 != 0xa0 {
		t.Errorf("cr4 %#x", c.cr4)
	}
	// Clearing CR4.PAE in long mode is #GP: no IDT, so triple fault.
	c, _ = newGuest(t, []byte{0x31, 0xc0, 0x0f, 0x22, 0xe0})
	ex := run(t, c, 100, ExitTripleFault)
	if ex.RIP != codeBase+2 {
		t.Errorf("rip %#x", ex.RIP)
	}
	// Clearing CR0.PG in long mode is #GP.
	c, _ = newGuest(t, []byte{0xb8, 0x21, 0, 0, 0, 0x0f, 0x22, 0xc0})
	run(t, c, 100, ExitTripleFault)
}

// ring3Prologue enables SYSCALL and SYSRETs to user at codeBase+0x100.
func ring3Prologue() []byte {
	user := uint64(codeBase + 0x100)
	return []byte{
		0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x83, 0xc8, 0x01, 0x0f, 0x30, // EFER.SCE
		0xb9, 0x81, 0x00, 0x00, 0xc0, 0x31, 0xc0, 0xba, 0x08, 0x00, 0x18, 0x00, 0x0f, 0x30, // STAR
		0xb9, byte(user), byte(user >> 8), byte(user >> 16), 0, // mov ecx, user
		0x41, 0xbb, 0x02, 0x00, 0x00, 0x00, // mov r11d, 2
		0x48, 0x0f, 0x07, // sysretq
	}
}

// User-mode access to a supervisor page is #PF with P|U (and W).
func TestPagingUserSupervisor(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
		err  uint64
	}{
		{"read", []byte{0x8b, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00}, pfP | pfU},        // mov eax, [0x200000]
		{"write", []byte{0x89, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00}, pfP | pfU | pfW}, // mov [0x200000], eax
		{"user-ok", []byte{0x8b, 0x04, 0x25, 0x00, 0x30, 0x20, 0x00, 0x0f, 0x05}, 0}, // page 3 has U; then syscall
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := with4K(t, ring3Prologue(), map[int]uint64{0: pteP | pteRW, 3: pteP | pteRW | pteUS})
			copy(ram.b[codeBase+0x100:], tc.code)
			ram.w64(tssBase+4, 0x60000)
			ram.w64(0x103000, 77)
			// LSTAR = handler for vector 0 region: a hlt.
			_ = c.wrmsrForTest(msrLSTAR, handlerVA)
			ex := run(t, c, 100, ExitHLT)
			if tc.err == 0 {
				if ex.RIP != handlerVA || c.r[rAX] != 77 {
					t.Errorf("user read of a U page: halted at %#x rax %d", ex.RIP, c.r[rAX])
				}
				return
			}
			if ex.RIP != handlerVA+vecPF*16 {
				t.Fatalf("halted at %#x, want #PF", ex.RIP)
			}
			if e, f := frame(c, ram, true); e != tc.err || f[0] != codeBase+0x100 || f[1] != 0x2b {
				t.Errorf("err %#x frame %#x", e, f)
			}
		})
	}
}

func (c *CPU) wrmsrForTest(msr uint32, v uint64) bool {
	ok, _ := c.wrmsr(msr, v)
	return ok
}
