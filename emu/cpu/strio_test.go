package cpu

import (
	"fmt"
	"testing"

	"softvmm/emu/abi"
)

// INS/OUTS leave Run with what VT-x reports for string I/O and vmm copies
// into VM_EXITCODE_INOUT_STR (reference/vmm-interface.md §3.1). The
// expected values follow the SDM's INS/OUTS pages: INS writes ES:(E/R)DI
// and takes no segment override; OUTS reads DS:(E/R)SI or the override;
// the operand size is 1 for the B forms and the 16/32-bit operand size
// otherwise (66 toggles it; there is no 64-bit form); 67 toggles the
// address size, which masks the index and RCX; F3 and F2 both repeat.
func TestStrIOExit(t *testing.T) {
	verifyDecoded(t) // SDM-derived checks of what ran: counted by the ISA coverage report
	const port = 0x3f8
	type tc struct {
		code    []byte
		in      bool
		bytes   uint8
		asz     uint8
		seg     int32
		rep     bool
		idxReg  int // rSI or rDI
		wantGLA uint64
		count   uint64
	}
	// Registers: RSI/RDI = 0x1_0000_1234 (upper half visible only to a
	// 64-bit address size), RCX = 0x1_0002_0005. Segment bases outside
	// 64-bit mode: ES 0x20000, DS 0x30000, FS 0x40000; FS in 64-bit mode
	// 0x40000 too; others have base 0 in 64-bit mode.
	const idx, cx = uint64(0x1_0000_1234), uint64(0x1_0002_0005)
	modes := map[int][]tc{
		64: {
			{[]byte{0x6c}, true, 1, 8, abi.VM_REG_GUEST_ES, false, rDI, idx, 1},
			{[]byte{0xf3, 0x6d}, true, 4, 8, abi.VM_REG_GUEST_ES, true, rDI, idx, cx},
			{[]byte{0x66, 0xf2, 0x6d}, true, 2, 8, abi.VM_REG_GUEST_ES, true, rDI, idx, cx},
			{[]byte{0xf3, 0x6e}, false, 1, 8, abi.VM_REG_GUEST_DS, true, rSI, idx, cx},
			{[]byte{0x67, 0xf3, 0x6f}, false, 4, 4, abi.VM_REG_GUEST_DS, true, rSI, 0x1234, cx & 0xffffffff},
			{[]byte{0x64, 0x6f}, false, 4, 8, abi.VM_REG_GUEST_FS, false, rSI, idx + 0x40000, 1},
			{[]byte{0x26, 0x6c}, true, 1, 8, abi.VM_REG_GUEST_ES, false, rDI, idx, 1}, // override ignored by INS
		},
		32: {
			{[]byte{0x6c}, true, 1, 4, abi.VM_REG_GUEST_ES, false, rDI, 0x20000 + 0x1234, 1},
			{[]byte{0xf3, 0x6d}, true, 4, 4, abi.VM_REG_GUEST_ES, true, rDI, 0x20000 + 0x1234, 0x20005},
			{[]byte{0x66, 0xf3, 0x6f}, false, 2, 4, abi.VM_REG_GUEST_DS, true, rSI, 0x30000 + 0x1234, 0x20005},
			{[]byte{0x67, 0xf3, 0x6e}, false, 1, 2, abi.VM_REG_GUEST_DS, true, rSI, 0x30000 + 0x1234, 5},
			{[]byte{0x64, 0xf2, 0x6e}, false, 1, 4, abi.VM_REG_GUEST_FS, true, rSI, 0x40000 + 0x1234, 0x20005},
		},
		16: {
			{[]byte{0x6d}, true, 2, 2, abi.VM_REG_GUEST_ES, false, rDI, 0x20000 + 0x1234, 1},
			{[]byte{0x66, 0xf3, 0x6d}, true, 4, 2, abi.VM_REG_GUEST_ES, true, rDI, 0x20000 + 0x1234, 5},
			{[]byte{0x67, 0xf3, 0x6f}, false, 2, 4, abi.VM_REG_GUEST_DS, true, rSI, 0x30000 + 0x1234, 0x20005},
			{[]byte{0x64, 0x6e}, false, 1, 2, abi.VM_REG_GUEST_FS, false, rSI, 0x40000 + 0x1234, 1},
		},
	}
	for _, mode := range []int{64, 32, 16} {
		for _, x := range modes[mode] {
			t.Run(fmt.Sprintf("%d/% x", mode, x.code), func(t *testing.T) {
				c, ram, at := branchGuest(t, mode)
				copy(ram.b[at:], append(x.code, 0xf4))
				c.rip = at
				c.r[rDX], c.r[rSI], c.r[rDI], c.r[rCX] = 0xffff0000|port, idx, idx, cx
				c.seg[segFS].base = 0x40000
				if mode != 64 {
					c.seg[segES].base, c.seg[segDS].base = 0x20000, 0x30000
				}
				c.setRflags(2 | flagDF)
				ex := run(t, c, 10, ExitInOutStr)
				s := ex.Str
				if ex.RIP != at || ex.InstLen != len(x.code) || c.rip != at+uint64(len(x.code)) {
					t.Errorf("rip %#x len %d next %#x, want %#x %d", ex.RIP, ex.InstLen, c.rip, at, len(x.code))
				}
				if ex.Port != port || ex.In != x.in || ex.Bytes != x.bytes || s.Rep != x.rep || s.AddrSize != x.asz {
					t.Errorf("port %#x in %v bytes %d rep %v asz %d, want %#x %v %d %v %d",
						ex.Port, ex.In, ex.Bytes, s.Rep, s.AddrSize, port, x.in, x.bytes, x.rep, x.asz)
				}
				if s.SegName != x.seg || s.Index != idx || s.Count != x.count || s.GLA != x.wantGLA {
					t.Errorf("seg %d index %#x count %#x gla %#x, want %d %#x %#x %#x",
						s.SegName, s.Index, s.Count, s.GLA, x.seg, idx, x.count, x.wantGLA)
				}
				sd := c.seg[s.SegName-abi.VM_REG_GUEST_ES]
				if s.Seg != (abi.SegDesc{Base: sd.base, Limit: sd.limit, Access: sd.access}) {
					t.Errorf("seg desc %+v", s.Seg)
				}
				if s.Rflags&flagDF == 0 || s.CR0 != c.cr0 {
					t.Errorf("rflags %#x cr0 %#x", s.Rflags, s.CR0)
				}
				wantMode := map[int]int32{64: abi.CPU_MODE_64BIT, 32: abi.CPU_MODE_PROTECTED, 16: abi.CPU_MODE_PROTECTED}[mode]
				if s.Paging.CpuMode != wantMode || s.Paging.Cpl != 0 || s.Paging.Cr3 != c.cr3 {
					t.Errorf("paging %+v, want cpu mode %d", s.Paging, wantMode)
				}
				if c.r[rSI] != idx || c.r[rDI] != idx || c.r[rCX] != cx {
					t.Errorf("the interpreter changed RSI/RDI/RCX: the caller owns them")
				}
			})
		}
	}
	t.Run("real", func(t *testing.T) {
		c, _ := newReal(t, []byte{0xf3, 0x6c, 0xf4}, 0x7c00)
		c.r[rDX], c.r[rDI], c.r[rCX] = port, 0x10, 3
		mustOK(t, c.SetReg(abi.VM_REG_GUEST_ES, 0x1000))
		mustOK(t, c.SetDesc(abi.VM_REG_GUEST_ES, abi.SegDesc{Base: 0x10000, Limit: 0xffff, Access: 0x93}))
		ex := run(t, c, 10, ExitInOutStr)
		if ex.Str.GLA != 0x10010 || ex.Str.Count != 3 || ex.Str.AddrSize != 2 || ex.Str.Paging.CpuMode != abi.CPU_MODE_REAL ||
			ex.Str.Paging.PagingMode != abi.PAGING_MODE_FLAT {
			t.Errorf("real mode: %+v", ex.Str)
		}
	})
}

// Above IOPL, INS/OUTS consult the TSS I/O permission bitmap for every
// byte of the element, like IN/OUT (SDM Vol. 1 §19.5.2): a denied port
// raises #GP(0) before any exit.
func TestStrIOPermission(t *testing.T) {
	verifyDecoded(t) // SDM-derived checks of what ran: counted by the ISA coverage report
	for _, tc := range []struct {
		name string
		code []byte
		bits byte // bitmap byte for ports 0x80..0x87
		iopl uint64
		ok   bool
	}{
		{"outsb denied", []byte{0xf3, 0x6e}, 0xfe, 0, false},
		{"outsb port 0x81 allowed", []byte{0xf3, 0x6e}, 0x01, 0, true},
		{"insw straddles a denied bit", []byte{0x66, 0x6d}, 0x04, 0, false},
		{"insd fits", []byte{0x6d}, 0xe1, 0, true},
		{"iopl 3 skips the bitmap", []byte{0x6e}, 0xff, 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ram := newProt(t, append(tc.code, 0xf4))
			ram.w16(tssBase+0x66, 0x68)
			ram.b[tssBase+0x68+0x10] = tc.bits
			c.tr.limit = 0x68 + 0x20
			c.seg[segCS] = seg{sel: selCode3, limit: 0xffffffff, access: 0xc0fb}
			c.seg[segSS] = seg{sel: selData3, limit: 0xffffffff, access: 0xc0f3}
			c.modeChanged()
			c.setRflags(2 | tc.iopl<<12)
			c.r[rDX], c.r[rCX] = 0x81, 2
			ex := c.Run(10)
			if tc.ok {
				if ex.Reason != ExitInOutStr || ex.Str.Paging.Cpl != 3 {
					t.Errorf("exit %v at %#x cpl %d, want the string I/O exit at CPL 3", ex.Reason, ex.RIP, ex.Str.Paging.Cpl)
				}
				return
			}
			if ex.Reason != ExitHLT || ex.RIP != handlerVA+vecGP*16 {
				t.Errorf("exit %v at %#x, want #GP", ex.Reason, ex.RIP)
			}
			if e, _, _ := protFrame(c, ram, true); e != 0 {
				t.Errorf("#GP error code %#x, want 0", e)
			}
		})
	}
}
