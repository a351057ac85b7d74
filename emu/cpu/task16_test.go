package cpu

import (
	"testing"

	"softvmm/emu/abi"
)

// Task switches to and from a 16-bit TSS (SDM Vol. 3 §7.6, Figure 7-10):
// IP at 0x0e, FLAGS 0x10, AX..DI 0x12-0x20, ES, CS, SS, DS at 0x22-0x28,
// the LDT selector at 0x2a; minimum limit 0x2b; no CR3, FS, GS.

const (
	selTSS16  = 0xa0
	tss16Base = 0x7c00
	task3Code = 0xf000 // inside the 64 KiB 16-bit code segment
)

func task16Prot(t *testing.T, code []byte) (*CPU, *testRAM) {
	c, ram := taskProt(t, code)
	ram.w64(0x5000+selTSS16, mkDesc(tss16Base, 0x2b, 0x81, 0))
	mustOK(t, c.SetDesc(abi.VM_REG_GUEST_GDTR, abi.SegDesc{Base: 0x5000, Limit: selTSS16 + 7}))
	w16 := func(off uint64, v uint16) { ram.b[tss16Base+off], ram.b[tss16Base+off+1] = byte(v), byte(v>>8) }
	w16(0x0e, task3Code)
	w16(0x10, 0x2|flagDF)
	for i, v := range []uint16{0x1111, 0x2222, 0x3333, 0x4444, 0x8400, 0x6666, 0x7777, 0x8888} {
		w16(0x12+uint64(i)*2, v)
	}
	for i, s := range []uint16{selData32, selCode16, selData32, selData32} {
		w16(0x22+uint64(i)*2, s)
	}
	copy(ram.b[task3Code:], []byte{0xf4, 0xcf}) // hlt; iret
	c.seg[segFS].sel, c.seg[segGS].sel = selData32, selData32
	return c, ram
}

func TestTask16CallIret(t *testing.T) {
	c, ram := task16Prot(t, []byte{0x9a, 0, 0, 0, 0, selTSS16, 0, 0xf4}) // lcall $selTSS16,$0; hlt
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != task3Code || c.tr.sel != selTSS16 || c.seg[segCS].sel != selCode16 {
		t.Fatalf("at %#x tr %#x cs %#x, want the 16-bit task", ex.RIP, c.tr.sel, c.seg[segCS].sel)
	}
	if c.r[rAX]&0xffff != 0x1111 || c.r[rSP]&0xffff != 0x8400 || c.r[rDI]&0xffff != 0x8888 ||
		c.rflags()&flagNT == 0 || c.rflags()&flagDF == 0 {
		t.Errorf("new task: ax %#x sp %#x di %#x flags %#x", c.r[rAX], c.r[rSP], c.r[rDI], c.rflags())
	}
	for _, s := range []uint8{segFS, segGS} {
		if c.seg[s].sel != 0 || c.seg[s].access&segUnusable == 0 {
			t.Errorf("segment %d %+v: a 16-bit TSS has no FS/GS, they load null", s, c.seg[s])
		}
	}
	if ram.r16(tss16Base) != selTSS || !busy(ram, selTSS) || !busy(ram, selTSS16) || c.cr0&cr0TS == 0 {
		t.Errorf("back link %#x, busy old %v new %v, cr0 %#x", ram.r16(tss16Base), busy(ram, selTSS), busy(ram, selTSS16), c.cr0)
	}
	ex = run(t, c, 100, ExitHLT)
	if ex.RIP != codeBase+7 || c.tr.sel != selTSS || c.r[rAX] != 0xaaaa || c.rflags()&flagNT != 0 {
		t.Fatalf("after iret: at %#x tr %#x eax %#x flags %#x", ex.RIP, c.tr.sel, c.r[rAX], c.rflags())
	}
	// The 16-bit task's state went into its TSS as words.
	if ram.r16(tss16Base+0x0e) != task3Code+2 || ram.r16(tss16Base+0x10)&flagNT != 0 ||
		ram.r16(tss16Base+0x12) != 0x1111 || ram.r16(tss16Base+0x24) != selCode16 || busy(ram, selTSS16) {
		t.Errorf("16-bit TSS after iret: ip %#x flags %#x ax %#x cs %#x busy %v", ram.r16(tss16Base+0x0e),
			ram.r16(tss16Base+0x10), ram.r16(tss16Base+0x12), ram.r16(tss16Base+0x24), busy(ram, selTSS16))
	}
}

// An exception through a task gate to a 16-bit TSS pushes its error code
// as a word.
func TestTask16GateErrorCode(t *testing.T) {
	c, ram := task16Prot(t, []byte{0x66, 0xb8, 0xb0, 0x00, 0x8e, 0xd8}) // mov ax, 0xb0; mov ds, ax: #GP(0xb0)
	taskGate(ram, vecGP, selTSS16)
	run(t, c, 100, ExitHLT)
	if c.tr.sel != selTSS16 || c.r[rSP]&0xffff != 0x8400-2 || ram.r16(0x8400-2) != 0xb0 {
		t.Errorf("tr %#x sp %#x error code %#x", c.tr.sel, c.r[rSP], ram.r16(0x8400-2))
	}
	if ram.r32(tssBase+0x20) != codeBase+4 {
		t.Errorf("saved EIP %#x", ram.r32(tssBase+0x20))
	}
}

func TestTask16LimitBelow2B(t *testing.T) {
	c, ram := task16Prot(t, []byte{0x9a, 0, 0, 0, 0, selTSS16, 0})
	ram.b[0x5000+selTSS16] = 0x2a
	haltedIn(t, c, vecTS)
	if e, eip, _ := protFrame(c, ram, true); e != selTSS16 || eip != codeBase {
		t.Errorf("error code %#x eip %#x", e, eip)
	}
}
