package cpu

import (
	"testing"

	"softvmm/emu/abi"
)

// Hardware task switches between 32-bit TSSs (SDM Vol. 3 §7.3, §7.4):
// what is saved into the old TSS, loaded from the new one, the busy bits,
// NT and the back link, CR0.TS, and the error codes of Table 7-1.

const (
	selTSS2   = 0x90 // the incoming task's TSS
	selTGate  = 0x98 // a task gate to it
	tss2Base  = 0x7800
	task2Code = 0x22000
)

func taskProt(t *testing.T, code []byte) (*CPU, *testRAM) {
	c, ram := newProt(t, code)
	ram.w64(0x5000+selTSS, mkDesc(tssBase, 0x67, 0x8b, 0)) // the running task: busy
	ram.w64(0x5000+selTSS2, mkDesc(tss2Base, 0x67, 0x89, 0))
	ram.w64(0x5000+selTGate, uint64(selTSS2)<<16|uint64(0x85|3<<5)<<40)
	mustOK(t, c.SetDesc(abi.VM_REG_GUEST_GDTR, abi.SegDesc{Base: 0x5000, Limit: selTGate + 7}))
	regs := []uint32{0x11, 0x22, 0x33, 0x44, 0x9800, 0x66, 0x77, 0x88}
	for i, v := range regs {
		ram.w32(tss2Base+0x28+uint64(i)*4, v)
	}
	ram.w32(tss2Base+0x20, task2Code)
	ram.w32(tss2Base+0x24, 0x2|flagDF)
	for i, s := range []uint32{selData32, selCode32, selData32, selData32, selData32, selData32} {
		ram.w32(tss2Base+0x48+uint64(i)*4, s)
	}
	copy(ram.b[task2Code:], []byte{0xf4, 0xcf}) // hlt; iret
	c.r[rAX], c.r[rSI] = 0xaaaa, 0x5151
	return c, ram
}

func busy(ram *testRAM, sel uint64) bool { return ram.b[0x5000+sel+5]&2 != 0 }

func TestTaskSwitchCallIret(t *testing.T) {
	verifyDecoded(t)                                   // SDM-derived checks of what ran: counted by the ISA coverage report
	code := []byte{0x9a, 0, 0, 0, 0, selTSS2, 0, 0xf4} // lcall $selTSS2,$0; hlt
	c, ram := taskProt(t, code)
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != task2Code || c.tr.sel != selTSS2 || c.tr.base != tss2Base {
		t.Fatalf("at %#x tr %#x, want the new task", ex.RIP, c.tr.sel)
	}
	if c.r[rAX] != 0x11 || c.r[rSP] != 0x9800 || c.r[rDI] != 0x88 || c.rflags()&flagNT == 0 || c.rflags()&flagDF == 0 {
		t.Errorf("new task: eax %#x esp %#x edi %#x eflags %#x", c.r[rAX], c.r[rSP], c.r[rDI], c.rflags())
	}
	if c.cr0&cr0TS == 0 {
		t.Error("CR0.TS not set by the task switch")
	}
	if ram.r16(tss2Base) != selTSS || !busy(ram, selTSS) || !busy(ram, selTSS2) {
		t.Errorf("back link %#x, busy old %v new %v", ram.r16(tss2Base), busy(ram, selTSS), busy(ram, selTSS2))
	}
	if ram.r32(tssBase+0x20) != codeBase+7 || ram.r32(tssBase+0x28) != 0xaaaa || ram.r32(tssBase+0x40) != 0x5151 ||
		ram.r16(tssBase+0x4c) != selCode32 || ram.r16(tssBase+0x50) != selData32 {
		t.Errorf("old TSS: eip %#x eax %#x esi %#x cs %#x ss %#x", ram.r32(tssBase+0x20), ram.r32(tssBase+0x28),
			ram.r32(tssBase+0x40), ram.r16(tssBase+0x4c), ram.r16(tssBase+0x50))
	}
	// IRET with NT: back to the caller, whose busy bit stays; the
	// nested task's clears; NT is clear in the resumed task.
	ex = run(t, c, 100, ExitHLT)
	if ex.RIP != codeBase+7 || c.tr.sel != selTSS || c.r[rAX] != 0xaaaa || c.rflags()&flagNT != 0 {
		t.Fatalf("after iret: at %#x tr %#x eax %#x eflags %#x", ex.RIP, c.tr.sel, c.r[rAX], c.rflags())
	}
	if busy(ram, selTSS2) || !busy(ram, selTSS) {
		t.Errorf("busy old %v new %v after iret", busy(ram, selTSS), busy(ram, selTSS2))
	}
	if ram.r32(tss2Base+0x20) != task2Code+2 || ram.r32(tss2Base+0x24)&flagNT != 0 {
		t.Errorf("nested TSS: eip %#x eflags %#x (IRET saves NT clear)", ram.r32(tss2Base+0x20), ram.r32(tss2Base+0x24))
	}
}

func TestTaskSwitchJmpGate(t *testing.T) {
	verifyDecoded(t) // SDM-derived checks of what ran: counted by the ISA coverage report
	c, ram := taskProt(t, []byte{0xea, 0, 0, 0, 0, selTGate, 0})
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != task2Code || c.tr.sel != selTSS2 || c.rflags()&flagNT != 0 {
		t.Fatalf("at %#x tr %#x eflags %#x", ex.RIP, c.tr.sel, c.rflags())
	}
	if busy(ram, selTSS) || !busy(ram, selTSS2) || ram.r16(tss2Base) != 0 {
		t.Errorf("busy old %v new %v, back link %#x: JMP frees the old task and links nothing",
			busy(ram, selTSS), busy(ram, selTSS2), ram.r16(tss2Base))
	}
}

func TestTaskSwitchFaults(t *testing.T) {
	call := []byte{0x9a, 0, 0, 0, 0, selTSS2, 0}
	for _, tc := range []struct {
		name  string
		code  []byte
		setup func(c *CPU, ram *testRAM)
		vec   uint64
		errc  uint32
		eip   uint32 // of the faulting instruction (old task) or the new task
	}{
		{"busy TSS", call, func(c *CPU, ram *testRAM) { ram.b[0x5000+selTSS2+5] |= 2 }, vecGP, selTSS2, codeBase},
		{"TSS limit below 0x67", call, func(c *CPU, ram *testRAM) { ram.b[0x5000+selTSS2] = 0x66 }, vecTS, selTSS2, codeBase},
		{"TSS not present", call, func(c *CPU, ram *testRAM) { ram.b[0x5000+selTSS2+5] &^= 0x80 }, vecNP, selTSS2, codeBase},
		{"task gate not present", []byte{0xea, 0, 0, 0, 0, selTGate, 0},
			func(c *CPU, ram *testRAM) { ram.b[0x5000+selTGate+5] &^= 0x80 }, vecNP, selTGate, codeBase},
		{"new CS null", call, func(c *CPU, ram *testRAM) { ram.w32(tss2Base+0x4c, 0) }, vecTS, 0, task2Code},
		{"new CS is data", call, func(c *CPU, ram *testRAM) { ram.w32(tss2Base+0x4c, selData32) }, vecTS, selData32, task2Code},
		{"new SS ring 3", call, func(c *CPU, ram *testRAM) { ram.w32(tss2Base+0x50, selData3) }, vecTS, selData3 &^ 3, task2Code},
		{"new DS not present", call, func(c *CPU, ram *testRAM) { ram.w32(tss2Base+0x54, selNP) }, vecNP, selNP, task2Code},
		{"new LDT not an LDT", call, func(c *CPU, ram *testRAM) { ram.w32(tss2Base+0x60, selData32) }, vecTS, selData32, task2Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := taskProt(t, tc.code)
			tc.setup(c, ram)
			haltedIn(t, c, tc.vec)
			if e, eip, _ := protFrame(c, ram, true); e != tc.errc || eip != tc.eip {
				t.Errorf("error code %#x eip %#x, want %#x %#x", e, eip, tc.errc, tc.eip)
			}
		})
	}
	t.Run("DPL below CPL", func(t *testing.T) {
		c, ram := taskProt(t, nil)
		copy(ram.b[ring3Code:], call)
		c.seg[segCS] = seg{sel: selCode3, limit: 0xffffffff, access: 0xc0fb}
		c.seg[segSS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
		c.modeChanged()
		c.rip, c.r[rSP] = ring3Code, 0x8000
		haltedIn(t, c, vecGP)
		if e := ram.r32(uint64(uint32(c.r[rSP]))); e != selTSS2 {
			t.Errorf("error code %#x, want %#x", e, selTSS2)
		}
	})
}
