package cpu

import (
	"fmt"
	"testing"

	"softvmm/emu/abi"
)

// Virtual-8086 mode without VME (SDM Vol. 3 §20.2-§20.3, IRET and INT n
// pseudocode). The ring-0 code at codeBase is one IRETD whose frame
// enters VM86 at 1800:0100 with SS:SP 4000:1000, ES 5100, DS 5000,
// FS 5200, GS 5300; interrupts from VM86 land on the TSS's ring-0 stack
// (SS0:ESP0 = 0x10:0x9000) in the hlt stubs of newProt.
const (
	vmCS, vmIP, vmSS, vmSP      = 0x1800, 0x100, 0x4000, 0x1000
	vmES, vmDS, vmFS, vmGS      = 0x5100, 0x5000, 0x5200, 0x5300
	vmCode                      = vmCS<<4 + vmIP
	vmFrameWords, vmFrameBottom = 9, tss0SP
)

func vm86Guest(t *testing.T, code []byte, iopl uint32) (*CPU, *testRAM) {
	t.Helper()
	c, ram := newProt(t, []byte{0xcf}) // iretd
	copy(ram.b[vmCode:], code)
	sp := uint64(stackTop - 4*vmFrameWords)
	for i, v := range []uint32{vmIP, vmCS, flagVM | iopl<<12 | 2, vmSP, vmSS, vmES, vmDS, vmFS, vmGS} {
		ram.w32(sp+4*uint64(i), v)
	}
	c.r[rSP] = sp
	return c, ram
}

// vmFrame checks the ring-0 frame of an event from VM86 mode: [err],
// EIP, CS, EFLAGS (VM set), ESP, SS, ES, DS, FS, GS, and the state the
// handler runs with: CPL 0, VM clear, DS/ES/FS/GS null.
func vmFrame(t *testing.T, c *CPU, ram *testRAM, bottom uint64, hasErr bool, err uint32, ip uint32, sp uint32) {
	t.Helper()
	n := uint64(9)
	if hasErr {
		n = 10
	}
	if c.r[rSP] != bottom-4*n {
		t.Fatalf("ring-0 ESP %#x, want %#x", c.r[rSP], bottom-4*n)
	}
	f := make([]uint32, n)
	for i := range f {
		f[i] = ram.r32(c.r[rSP] + 4*uint64(i))
	}
	if hasErr {
		if f[0] != err {
			t.Errorf("error code %#x, want %#x", f[0], err)
		}
		f = f[1:]
	}
	want := []uint32{ip, vmCS, f[2], sp, vmSS, vmES, vmDS, vmFS, vmGS}
	if f[2]&flagVM == 0 {
		t.Errorf("pushed EFLAGS %#x without VM", f[2])
	}
	for i := range want {
		if f[i] != want[i] {
			t.Errorf("frame %v, want %v", hexs(f), hexs(want))
			break
		}
	}
	if c.cpl != 0 || c.fl&flagVM != 0 || c.seg[segCS].sel != selCode32 {
		t.Errorf("handler: cpl %d eflags %#x cs %#x", c.cpl, c.fl, c.seg[segCS].sel)
	}
	for _, s := range []uint8{segES, segDS, segFS, segGS} {
		if c.seg[s].sel != 0 || c.seg[s].access&segUnusable == 0 {
			t.Errorf("segment %d: %+v, want null", s, c.seg[s])
		}
	}
}

func hexs(v []uint32) string {
	s := ""
	for _, x := range v {
		s += fmt.Sprintf("%#x ", x)
	}
	return s
}

// Entry by IRET, real-mode-style addressing through every segment
// register, a segment load, and the exit by #GP(0) from HLT (CPL 3).
func TestVM86AddressingAndExit(t *testing.T) {
	code := []byte{
		0xa1, 0x10, 0x00, // mov ax, [0x10]        (DS 5000: 0x50010)
		0x26, 0xa3, 0x20, 0x00, // mov [es:0x20], ax    (ES 5100: 0x51020)
		0x64, 0x8b, 0x1e, 0x30, 0x00, // mov bx, [fs:0x30]  (FS 5200: 0x52030)
		0xb9, 0x00, 0x60, // mov cx, 0x6000
		0x8e, 0xd9, // mov ds, cx
		0x8b, 0x16, 0x04, 0x00, // mov dx, [4]          (0x60004)
		0x50,       // push ax              (SS 4000: 0x40ffe)
		0x8e, 0xdb, // mov ds, bx           (DS := [fs:0x30])
		0xf4, // hlt: #GP(0)
	}
	c, ram := vm86Guest(t, code, 0)
	ram.w32(0x50010, 0x1234)
	ram.w32(0x52030, vmDS)
	ram.w32(0x60004, 0xbeef)
	haltedIn(t, c, vecGP)
	if ax, dx := c.r[rAX]&0xffff, c.r[rDX]&0xffff; ax != 0x1234 || dx != 0xbeef {
		t.Errorf("ax %#x dx %#x", ax, dx)
	}
	if ram.r16(0x51020) != 0x1234 || ram.r16(0x40ffe) != 0x1234 {
		t.Errorf("stores: es:0x20 %#x, ss:sp %#x", ram.r16(0x51020), ram.r16(0x40ffe))
	}
	vmFrame(t, c, ram, vmFrameBottom, true, 0, vmIP+24, vmSP-2)
}

// INT n at IOPL 3 through a DPL 3 gate, and IRETD from the ring-0
// handler back into VM86 with the segments the frame holds.
func TestVM86IntIretRoundTrip(t *testing.T) {
	// int 0x40; mov ax, [0x10]; hlt
	c, ram := vm86Guest(t, []byte{0xcd, 0x40, 0xa1, 0x10, 0x00, 0xf4}, 3)
	ram.w32(0x50010, 0x4321)
	ram.b[handlerVA+0x40*16+1] = 0xcf // the handler: hlt; iretd
	haltedIn(t, c, 0x40)
	vmFrame(t, c, ram, vmFrameBottom, false, 0, vmIP+2, vmSP)
	haltedIn(t, c, vecGP)
	if c.r[rAX]&0xffff != 0x4321 {
		t.Errorf("ax %#x after the return to VM86", c.r[rAX])
	}
	vmFrame(t, c, ram, vmFrameBottom, true, 0, vmIP+5, vmSP)
}

// IOPL-sensitive instructions are #GP(0) below IOPL 3 (SDM §20.2.7);
// INT3 is not, but its gate's DPL is checked (#GP(vector*8+2)).
func TestVM86IOPLSensitive(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
	}{
		{"cli", []byte{0xfa}}, {"sti", []byte{0xfb}}, {"pushf", []byte{0x9c}}, {"pushfd", []byte{0x66, 0x9c}},
		{"popf", []byte{0x9d}}, {"int 0x40", []byte{0xcd, 0x40}}, {"iret", []byte{0xcf}}, {"iretd", []byte{0x66, 0xcf}},
	} {
		for _, iopl := range []uint32{0, 1, 2} {
			t.Run(fmt.Sprintf("%s/iopl%d", tc.name, iopl), func(t *testing.T) {
				c, ram := vm86Guest(t, tc.code, iopl)
				haltedIn(t, c, vecGP)
				vmFrame(t, c, ram, vmFrameBottom, true, 0, vmIP, vmSP)
			})
		}
	}
	t.Run("int3-gate-dpl0", func(t *testing.T) {
		c, ram := vm86Guest(t, []byte{0xcc}, 0)
		haltedIn(t, c, vecGP)
		vmFrame(t, c, ram, vmFrameBottom, true, vecBP<<3|2, vmIP, vmSP)
	})
}

// At IOPL 3: CLI/STI work, PUSHFD stores VM and RF clear, POPF cannot
// change IOPL, and IN/OUT still consult the TSS bitmap (here: none, so
// #GP(0)) whatever IOPL says (SDM Vol. 1 §19.5).
func TestVM86IOPL3(t *testing.T) {
	code := []byte{
		0xfa,       // cli
		0x66, 0x9c, // pushfd
		0x66, 0x58, // pop eax
		0x6a, 0x00, // push 0
		0x9d,       // popf (IOPL stays 3)
		0xfb,       // sti
		0xe4, 0x80, // in al, 0x80: #GP(0)
	}
	c, ram := vm86Guest(t, code, 3)
	ram.w32(tssBase+0x64, 0x68<<16) // I/O map base beyond the limit: no bitmap
	haltedIn(t, c, vecGP)
	if img := uint32(c.r[rAX]); img&(flagVM|flagRF) != 0 || img&flagIOPL != flagIOPL || img&flagIF != 0 {
		t.Errorf("PUSHFD image %#x", img)
	}
	vmFrame(t, c, ram, vmFrameBottom, true, 0, vmIP+9, vmSP)
	fl := ram.r32(c.r[rSP] + 12)
	if fl&flagIOPL != flagIOPL || fl&flagIF == 0 {
		t.Errorf("EFLAGS %#x: want IOPL 3 kept by POPF and IF set by STI", fl)
	}
	// At IOPL 0 a port the bitmap allows is accessible.
	c, ram = vm86Guest(t, []byte{0xe4, 0x80}, 0)
	ram.w32(tssBase+0x64, 0x68<<16)
	mustOK(t, c.SetDesc(abi.VM_REG_GUEST_TR, abi.SegDesc{Base: tssBase, Limit: 0x68 + 0x80/8, Access: 0x8b}))
	if ex := run(t, c, 100, ExitInOut); ex.Port != 0x80 || !ex.In {
		t.Errorf("exit %+v, want IN from port 0x80", ex)
	}
}

// Instructions that are #UD in VM86 mode (SDM: SLDT, STR, LLDT, LTR,
// LAR, LSL, VERR, VERW "#UD in virtual-8086 mode"), and a handler that
// is conforming or not ring 0: #GP(selector).
func TestVM86Faults(t *testing.T) {
	for _, tc := range []struct {
		name string
		code []byte
	}{
		{"sldt", []byte{0x0f, 0x00, 0xc0}}, {"str", []byte{0x0f, 0x00, 0xc8}},
		{"lar", []byte{0x0f, 0x02, 0xc0}}, {"verr", []byte{0x0f, 0x00, 0xe0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := vm86Guest(t, tc.code, 0)
			haltedIn(t, c, vecUD)
			vmFrame(t, c, ram, vmFrameBottom, false, 0, vmIP, vmSP)
		})
	}
	t.Run("conforming handler", func(t *testing.T) {
		c, ram := vm86Guest(t, []byte{0xcd, 0x40}, 3)
		ram.b[idtBase+0x40*8+2] = selConf
		haltedIn(t, c, vecGP)
		vmFrame(t, c, ram, vmFrameBottom, true, selConf, vmIP, vmSP)
	})
}

// A task switch to a TSS whose EFLAGS image has VM set enters VM86 mode
// (SDM Vol. 3 §20.2.5): the segment registers are loaded real-mode style
// from the TSS, and an event then uses the new TSS's ring-0 stack.
func TestVM86TaskSwitch(t *testing.T) {
	c, ram := taskProt(t, []byte{0xea, 0, 0, 0, 0, selTSS2, 0}) // ljmp $selTSS2, $0
	copy(ram.b[vmCode:], []byte{0xa1, 0x10, 0x00, 0xf4})        // mov ax, [0x10]; hlt
	ram.w32(0x50010, 0x5a5a)
	ram.w32(tss2Base+4, 0x8800) // ESP0
	ram.w32(tss2Base+8, selData32)
	ram.w32(tss2Base+0x20, vmIP)
	ram.w32(tss2Base+0x24, flagVM|2)
	ram.w32(tss2Base+0x38, vmSP)
	for i, s := range []uint32{vmES, vmCS, vmSS, vmDS, vmFS, vmGS} {
		ram.w32(tss2Base+0x48+uint64(i)*4, s)
	}
	haltedIn(t, c, vecGP)
	if c.tr.sel != selTSS2 || c.r[rAX]&0xffff != 0x5a5a {
		t.Errorf("tr %#x ax %#x", c.tr.sel, c.r[rAX])
	}
	vmFrame(t, c, ram, 0x8800, true, 0, vmIP+3, vmSP)
}

// CR4.VME is not advertised and has no effect: CLI at IOPL 0 is #GP(0)
// with it set, as without (with VME it would clear VIF instead).
func TestVM86IgnoresVME(t *testing.T) {
	c, ram := vm86Guest(t, []byte{0xfa}, 0)
	c.cr4 |= cr4VME | cr4PVI
	haltedIn(t, c, vecGP)
	vmFrame(t, c, ram, vmFrameBottom, true, 0, vmIP, vmSP)
	if _, _, _, d := c.cpuid(1, 0); d&(1<<1) != 0 {
		t.Error("CPUID.1:EDX.VME advertised")
	}
}

// INT3, INTO and INT1 are not IOPL-sensitive in VM86 mode (SDM §20.2.7):
// INT3 and INTO are checked against their gate's DPL, INT1 not; and an
// external interrupt from VM86 leaves through the same ring-0 frame.
func TestVM86NotSensitive(t *testing.T) {
	for _, tc := range []struct {
		name     string
		code     []byte
		vec      uint64
		gateDPL3 bool
	}{
		{"int3", []byte{0xcc}, vecBP, true},
		{"into", []byte{0xb0, 0x7f, 0xfe, 0xc0, 0xce}, vecOF, true}, // mov al, 0x7f; inc al (OF); into
		{"int1", []byte{0xf1}, vecDB, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := vm86Guest(t, tc.code, 0)
			if tc.gateDPL3 {
				ram.b[idtBase+tc.vec*8+5] |= 3 << 5
			}
			haltedIn(t, c, tc.vec)
			vmFrame(t, c, ram, vmFrameBottom, false, 0, vmIP+uint32(len(tc.code)), vmSP)
		})
	}
	t.Run("external", func(t *testing.T) {
		c, ram := vm86Guest(t, []byte{0x90}, 0)
		run(t, c, 1, ExitBudget) // the IRETD into VM86
		if c.fl&flagVM == 0 || c.cpl != 3 || c.rip != vmIP {
			t.Fatalf("not in VM86: eflags %#x cpl %d ip %#x", c.fl, c.cpl, c.rip)
		}
		if !c.deliverVector(0x41) {
			t.Fatal("not delivered")
		}
		haltedIn(t, c, 0x41)
		vmFrame(t, c, ram, vmFrameBottom, false, 0, vmIP, vmSP)
	})
}

// Paging applies to VM86 mode at CPL 3: a supervisor page is
// #PF(P|U) for a VM86 read, with CR2 the linear address (SDM §20.2.2).
func TestVM86PageFault(t *testing.T) {
	c, ram := vm86Guest(t, []byte{0xa1, 0x10, 0x00}, 0) // mov ax, [0x10]: linear 0x50010
	const pd, pt = 0x100000, 0x101000
	ram.w32(pd, pt|7)
	for i := uint64(0); i < 1024; i++ {
		ram.w32(pt+i*4, uint32(i<<12|7))
	}
	ram.w32(pt+0x50*4, 0x50000|3) // supervisor only
	c.cr3 = pd
	c.cr0 |= cr0PG
	c.tlb.flush()
	haltedIn(t, c, vecPF)
	vmFrame(t, c, ram, vmFrameBottom, true, pfP|pfU, vmIP, vmSP)
	if c.cr2 != 0x50010 {
		t.Errorf("cr2 %#x, want 0x50010", c.cr2)
	}
}
