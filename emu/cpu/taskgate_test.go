package cpu

import "testing"

// Interrupts and exceptions through a task gate in the IDT (SDM Vol. 3
// §6.12.2, §7.3, INT n pseudocode TASK-GATE): the switch nests like a
// CALL (the new TSS's back link is the old task, the new task runs with
// NT set, both TSSs stay busy), the old TSS saves the return EIP of the
// event (the faulting instruction for a fault, the next one for INT n),
// and an error code is pushed as a doubleword on the new task's stack.

// taskGate makes IDT vector v a present task gate (DPL 0) to sel.
func taskGate(ram *testRAM, v uint64, sel uint16) {
	ram.w64(idtBase+v*8, uint64(sel)<<16|uint64(0x85)<<40)
}

// checkNested checks the state right after a nested switch to TSS2 whose
// old task resumes at oldEIP, with the error code err on the new stack
// when hasErr; halted says the new task has run its first HLT.
func checkNested(t *testing.T, c *CPU, ram *testRAM, halted bool, oldEIP uint32, hasErr bool, err uint32) {
	t.Helper()
	if c.rip != task2Code+uint64(b2u32(halted)) || c.tr.sel != selTSS2 || c.rflags()&flagNT == 0 || c.cr0&cr0TS == 0 {
		t.Fatalf("at %#x tr %#x eflags %#x cr0 %#x, want the nested task", c.rip, c.tr.sel, c.rflags(), c.cr0)
	}
	if ram.r16(tss2Base) != selTSS || !busy(ram, selTSS) || !busy(ram, selTSS2) {
		t.Errorf("back link %#x, busy old %v new %v", ram.r16(tss2Base), busy(ram, selTSS), busy(ram, selTSS2))
	}
	if got := ram.r32(tssBase + 0x20); got != oldEIP {
		t.Errorf("old task's saved EIP %#x, want %#x", got, oldEIP)
	}
	wantSP := uint64(0x9800)
	if hasErr {
		wantSP -= 4
		if e := ram.r32(wantSP); e != err {
			t.Errorf("error code %#x on the new stack, want %#x", e, err)
		}
	}
	if c.r[rSP] != wantSP {
		t.Errorf("new task's ESP %#x, want %#x", c.r[rSP], wantSP)
	}
}

func TestTaskGateIntIret(t *testing.T) {
	// int 0x41; hlt. The task runs hlt; iret (back to the hlt here).
	c, ram := taskProt(t, []byte{0xcd, 0x41, 0xf4})
	taskGate(ram, 0x41, selTSS2)
	run(t, c, 100, ExitHLT)
	checkNested(t, c, ram, true, codeBase+2, false, 0)
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != codeBase+2 || c.tr.sel != selTSS || c.r[rAX] != 0xaaaa || c.rflags()&flagNT != 0 {
		t.Fatalf("after iret: at %#x tr %#x eax %#x eflags %#x", ex.RIP, c.tr.sel, c.r[rAX], c.rflags())
	}
	if busy(ram, selTSS2) || !busy(ram, selTSS) {
		t.Errorf("busy old %v new %v after iret", busy(ram, selTSS), busy(ram, selTSS2))
	}
}

// An external interrupt through a task gate saves the interrupted EIP.
func TestTaskGateExternal(t *testing.T) {
	c, ram := taskProt(t, []byte{0x90})
	taskGate(ram, 0x41, selTSS2)
	if !c.deliverVector(0x41) {
		t.Fatal("not delivered")
	}
	checkNested(t, c, ram, false, codeBase, false, 0)
}

// A fault with an error code through a task gate: #GP(0xa0) for a
// selector beyond the GDT limit; the saved EIP is the faulting
// instruction and the code is on the handler task's stack.
func TestTaskGateFault(t *testing.T) {
	c, ram := taskProt(t, []byte{0x66, 0xb8, 0xa0, 0x00, 0x8e, 0xd8}) // mov ax, 0xa0; mov ds, ax
	taskGate(ram, vecGP, selTSS2)
	run(t, c, 100, ExitHLT)
	checkNested(t, c, ram, true, codeBase+4, true, 0xa0)
}

// The classic use: #DF through a task gate gets a known-good stack. #GP
// whose gate is not present raises #NP during delivery: contributory
// twice is #DF, delivered by a switch to TSS2 with error code 0.
func TestTaskGateDoubleFault(t *testing.T) {
	c, ram := taskProt(t, []byte{0x66, 0xb8, 0xa0, 0x00, 0x8e, 0xd8})
	ram.b[idtBase+vecGP*8+5] &^= 0x80
	taskGate(ram, vecDF, selTSS2)
	run(t, c, 100, ExitHLT)
	checkNested(t, c, ram, true, codeBase+4, true, 0)
}

// Faults of the switch itself are the old task's, with EXT set for an
// event the program did not cause (an external interrupt here).
func TestTaskGateFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(ram *testRAM)
		vec   uint64
		errc  uint32
	}{
		{"TSS busy", func(ram *testRAM) { ram.b[0x5000+selTSS2+5] |= 2 }, vecGP, selTSS2 | 1},
		{"TSS not present", func(ram *testRAM) { ram.b[0x5000+selTSS2+5] &^= 0x80 }, vecNP, selTSS2 | 1},
		{"TSS selector in the LDT", func(ram *testRAM) { taskGate(ram, 0x41, selTSS2|4) }, vecGP, selTSS2 | 4 | 1},
		{"TSS limit below 0x67", func(ram *testRAM) { ram.b[0x5000+selTSS2] = 0x66 }, vecTS, selTSS2 | 1},
		{"gate not present", func(ram *testRAM) { ram.b[idtBase+0x41*8+5] &^= 0x80 }, vecNP, 0x41<<3 | 2 | 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := taskProt(t, []byte{0x90})
			taskGate(ram, 0x41, selTSS2)
			tc.setup(ram)
			c.deliverVector(0x41)
			haltedIn(t, c, tc.vec)
			if e, eip, _ := protFrame(c, ram, true); e != tc.errc || eip != codeBase {
				t.Errorf("error code %#x eip %#x, want %#x %#x", e, eip, tc.errc, codeBase)
			}
			if c.tr.sel != selTSS || busy(ram, selTSS2) != (tc.name == "TSS busy") {
				t.Errorf("tr %#x, TSS2 busy %v: nothing may be committed", c.tr.sel, busy(ram, selTSS2))
			}
		})
	}
	t.Run("INT n has no EXT", func(t *testing.T) {
		c, ram := taskProt(t, []byte{0xcd, 0x41})
		taskGate(ram, 0x41, selTSS2)
		ram.b[0x5000+selTSS2+5] |= 2
		haltedIn(t, c, vecGP)
		if e, eip, _ := protFrame(c, ram, true); e != selTSS2 || eip != codeBase {
			t.Errorf("error code %#x eip %#x, want %#x %#x", e, eip, selTSS2, codeBase)
		}
	})
	t.Run("INT n to a DPL 0 gate from ring 3", func(t *testing.T) {
		c, ram := taskProt(t, nil)
		copy(ram.b[ring3Code:], []byte{0xcd, 0x41})
		taskGate(ram, 0x41, selTSS2)
		c.seg[segCS] = seg{sel: selCode3, limit: 0xffffffff, access: 0xc0fb}
		c.seg[segSS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
		c.modeChanged()
		c.rip, c.r[rSP] = ring3Code, 0x8000
		haltedIn(t, c, vecGP)
		if e := ram.r32(uint64(uint32(c.r[rSP]))); e != 0x41<<3|2 {
			t.Errorf("error code %#x, want %#x", e, 0x41<<3|2)
		}
	})
}
