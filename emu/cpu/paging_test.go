package cpu

import (
	"testing"

	"softvmm/emu/abi"
)

const ptBase = 0x9000

// with4K maps 2-4 MiB with 4 KiB pages through a page table at ptBase:
// page i -> 0x100000 + i*0x1000, with per-page flags.
func with4K(t *testing.T, code []byte, flags map[int]uint64) (*CPU, *testRAM) {
	c, ram := withHandlers(t, code)
	ram.w64(0x4000+8, ptBase|7) // PD[1]
	for i := 0; i < 512; i++ {
		f, ok := flags[i]
		if !ok {
			f = pteP | pteRW
		}
		ram.w64(ptBase+uint64(i)*8, 0x100000+uint64(i)*0x1000|f)
	}
	return c, ram
}

func TestPagingAccessedDirty(t *testing.T) {
	code := []byte{
		0x48, 0x8b, 0x04, 0x25, 0x08, 0x00, 0x20, 0x00, // mov rax, [0x200008]
		0xf4,
		0x48, 0x89, 0x04, 0x25, 0x10, 0x00, 0x20, 0x00, // mov [0x200010], rax
		0xf4,
	}
	c, ram := with4K(t, code, nil)
	ram.w64(0x100008, 0x1122334455667788)
	run(t, c, 100, ExitHLT)
	if c.r[rAX] != 0x1122334455667788 {
		t.Errorf("rax %#x", c.r[rAX])
	}
	if pte := ram.r64(ptBase); pte&pteA == 0 || pte&pteD != 0 {
		t.Errorf("after read PTE %#x, want A set, D clear", pte)
	}
	if pde := ram.r64(0x4008); pde&pteA == 0 {
		t.Errorf("PDE %#x, want A", pde)
	}
	run(t, c, 100, ExitHLT)
	if pte := ram.r64(ptBase); pte&pteD == 0 {
		t.Errorf("after write PTE %#x, want D set", pte)
	}
	if ram.r64(0x100010) != 0x1122334455667788 {
		t.Errorf("store went elsewhere")
	}
}

func TestPagingWriteProtect(t *testing.T) {
	code := []byte{0xc6, 0x04, 0x25, 0x00, 0x10, 0x20, 0x00, 0x05, 0xf4} // mov byte [0x201000], 5; hlt
	c, ram := with4K(t, code, map[int]uint64{1: pteP})
	run(t, c, 100, ExitHLT) // CR0.WP clear: supervisor may write
	if ram.b[0x101000] != 5 {
		t.Errorf("WP=0 store lost")
	}
	c, ram = with4K(t, code, map[int]uint64{1: pteP})
	_ = c.SetReg(abi.VM_REG_GUEST_CR0, 0x80010021)
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != handlerVA+vecPF*16 {
		t.Fatalf("halted at %#x, want #PF", ex.RIP)
	}
	if e, _ := frame(c, ram, true); e != pfP|pfW {
		t.Errorf("error code %#x, want P|W", e)
	}
	if ram.b[0x101000] != 0 || reg(t, c, abi.VM_REG_GUEST_CR2) != 0x201000 {
		t.Errorf("store happened or CR2 wrong")
	}
}

func TestPagingNX(t *testing.T) {
	code := []byte{0xb8, 0x00, 0x20, 0x20, 0x00, 0xff, 0xe0} // mov eax, 0x202000; jmp rax
	c, ram := with4K(t, code, map[int]uint64{2: pteP | pteRW | pteNX})
	ram.b[0x102000] = 0xf4
	_ = c.SetReg(abi.VM_REG_GUEST_EFER, 0xd00)
	ex := run(t, c, 100, ExitHLT)
	if ex.RIP != handlerVA+vecPF*16 {
		t.Fatalf("halted at %#x, want #PF", ex.RIP)
	}
	if e, f := frame(c, ram, true); e != pfP|pfI || f[0] != 0x202000 {
		t.Errorf("error code %#x rip %#x", e, f[0])
	}
	// With EFER.NXE clear, bit 63 is reserved: #PF with RSVD.
	c, ram = with4K(t, code, map[int]uint64{2: pteP | pteRW | pteNX})
	run(t, c, 100, ExitHLT)
	if e, _ := frame(c, ram, true); e != pfP|pfRSVD {
		t.Errorf("error code %#x, want P|RSVD", e)
	}
}

func TestPagingInvlpgAndCR3(t *testing.T) {
	newPTE := uint64(0x104000 | pteP | pteRW)
	code := []byte{
		0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, // mov rax, [0x200000]
		0x48, 0xba, byte(newPTE), byte(newPTE >> 8), byte(newPTE >> 16), 0, 0, 0, 0, 0, // mov rdx, newPTE
		0x48, 0x89, 0x14, 0x25, ptBase & 0xff, ptBase >> 8, 0, 0, // mov [ptBase], rdx
		0x48, 0x8b, 0x1c, 0x25, 0x00, 0x00, 0x20, 0x00, // mov rbx, [0x200000]: stale TLB entry
		0x0f, 0x01, 0x3c, 0x25, 0x00, 0x00, 0x20, 0x00, // invlpg [0x200000]
		0x48, 0x8b, 0x0c, 0x25, 0x00, 0x00, 0x20, 0x00, // mov rcx, [0x200000]
		0xf4,
	}
	c, ram := with4K(t, code, nil)
	ram.w64(0x100000, 111)
	ram.w64(0x104000, 444)
	run(t, c, 100, ExitHLT)
	if c.r[rAX] != 111 || c.r[rBX] != 111 || c.r[rCX] != 444 {
		t.Errorf("rax %d rbx %d rcx %d, want 111 111 444", c.r[rAX], c.r[rBX], c.r[rCX])
	}
}

func TestPaging1GiB(t *testing.T) {
	code := []byte{0x48, 0x8b, 0x04, 0x25, 0x08, 0x50, 0x00, 0x40, 0xf4} // mov rax, [0x40005008]
	c, ram := newGuest(t, code)
	ram.w64(0x3008, 0|pteP|pteRW|ptePS) // PDPT[1]: 1 GiB page at 0
	run(t, c, 100, ExitHLT)
	if c.r[rAX] != 0x0020980000000000 {
		t.Errorf("rax %#x, want the GDT code descriptor", c.r[rAX])
	}
}

func TestStringOps(t *testing.T) {
	code := []byte{
		0xbe, 0x00, 0x00, 0x02, 0x00, // mov esi, 0x20000
		0xbf, 0x00, 0x10, 0x02, 0x00, // mov edi, 0x21000
		0xb9, 0x05, 0x00, 0x00, 0x00, // mov ecx, 5
		0xf3, 0xa4, // rep movsb
		0xbf, 0x00, 0x20, 0x02, 0x00, // mov edi, 0x22000
		0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // mov rax, imm64
		0xb9, 0x03, 0x00, 0x00, 0x00, // mov ecx, 3
		0xf3, 0x48, 0xab, // rep stosq
		0xbf, 0x00, 0x00, 0x02, 0x00, // mov edi, 0x20000
		0x31, 0xc0, // xor eax, eax
		0x48, 0x83, 0xc9, 0xff, // or rcx, -1
		0xf2, 0xae, // repne scasb: strlen
		0xfd,                         // std
		0xbe, 0x04, 0x00, 0x02, 0x00, // mov esi, 0x20004
		0xbf, 0x04, 0x10, 0x02, 0x00, // mov edi, 0x21004
		0x41, 0xb8, 0x05, 0x00, 0x00, 0x00, // mov r8d, 5 (unused)
		0x48, 0x89, 0xca, // mov rdx, rcx
		0xb9, 0x05, 0x00, 0x00, 0x00, // mov ecx, 5
		0xf3, 0xa6, // repe cmpsb, backwards
		0xfc, // cld
		0xf4,
	}
	c, ram := newGuest(t, code)
	copy(ram.b[0x20000:], "hello\x00")
	run(t, c, 1000, ExitHLT)
	if string(ram.b[0x21000:0x21005]) != "hello" {
		t.Errorf("rep movsb: %q", ram.b[0x21000:0x21005])
	}
	for i := 0; i < 3; i++ {
		if ram.r64(0x22000+uint64(i)*8) != 0x1122334455667788 {
			t.Errorf("rep stosq element %d", i)
		}
	}
	if ram.r64(0x22018) != 0 {
		t.Errorf("rep stosq overran")
	}
	// repne scasb stops after the NUL: rcx = -1 - 6
	if c.r[rDX] != ^uint64(0)-6 {
		t.Errorf("scasb rcx %#x, want %#x", c.r[rDX], ^uint64(0)-6)
	}
	// All five compared equal: rcx 0, ZF 1, rsi/rdi moved down by 5.
	if c.r[rCX] != 0 || c.r[rSI] != 0x1ffff || c.r[rDI] != 0x20fff || !c.cond(ccE) {
		t.Errorf("cmpsb rcx %d rsi %#x rdi %#x", c.r[rCX], c.r[rSI], c.r[rDI])
	}
}

func TestCallRetStack(t *testing.T) {
	code := []byte{
		0xe8, 0x05, 0x00, 0x00, 0x00, // call f (+5)
		0x6a, 0xfe, // push -2
		0x5b,             // pop rbx
		0xf4,             // hlt
		0x90,             // pad
		0x55,             // f: push rbp
		0x48, 0x89, 0xe5, // mov rbp, rsp
		0x48, 0x83, 0xec, 0x20, // sub rsp, 0x20
		0x48, 0xc7, 0x45, 0xf8, 0x2a, 0x00, 0x00, 0x00, // mov qword [rbp-8], 42
		0x48, 0x8b, 0x45, 0xf8, // mov rax, [rbp-8]
		0xc9,             // leave
		0xc2, 0x00, 0x00, // ret 0
	}
	c, _ := newGuest(t, code)
	_ = c.SetReg(abi.VM_REG_GUEST_RBP, 0x1234)
	run(t, c, 100, ExitHLT)
	if c.r[rAX] != 42 || c.r[rBP] != 0x1234 || c.r[rSP] != stackTop || c.r[rBX] != ^uint64(1) {
		t.Errorf("rax %d rbp %#x rsp %#x rbx %#x", c.r[rAX], c.r[rBP], c.r[rSP], c.r[rBX])
	}
}

func TestMemoryForms(t *testing.T) {
	code := []byte{
		0xbf, 0x00, 0x00, 0x02, 0x00, // mov edi, 0x20000
		0x48, 0x0f, 0xc7, 0x0f, // cmpxchg16b [rdi] (rdx:rax == mem -> store rcx:rbx)
		0x48, 0xc7, 0xc1, 0x43, 0x00, 0x00, 0x00, // mov rcx, 67
		0x48, 0x0f, 0xab, 0x4f, 0x20, // bts [rdi+0x20], rcx: bit 67 = byte 8 bit 3
		0xb8, 0x99, 0x00, 0x00, 0x00, // mov eax, 0x99
		0x87, 0x47, 0x30, // xchg [rdi+0x30], eax
		0x83, 0x47, 0x40, 0x05, // add dword [rdi+0x40], 5
		0xf4,
	}
	c, ram := newGuest(t, code)
	ram.w64(0x20000, 7)
	ram.w64(0x20008, 9)
	ram.w64(0x20030, 0x55)
	ram.w64(0x20040, 0xfffffffe)
	_ = c.SetReg(abi.VM_REG_GUEST_RAX, 7)
	_ = c.SetReg(abi.VM_REG_GUEST_RDX, 9)
	_ = c.SetReg(abi.VM_REG_GUEST_RBX, 0xaaaa)
	_ = c.SetReg(abi.VM_REG_GUEST_RCX, 0xbbbb)
	run(t, c, 100, ExitHLT)
	if ram.r64(0x20000) != 0xaaaa || ram.r64(0x20008) != 0xbbbb {
		t.Errorf("cmpxchg16b stored %#x %#x", ram.r64(0x20000), ram.r64(0x20008))
	}
	if ram.b[0x20028] != 8 {
		t.Errorf("bts bit string: byte %#x", ram.b[0x20028])
	}
	if c.r[rAX] != 0x55 || ram.r64(0x20030) != 0x99 {
		t.Errorf("xchg rax %#x mem %#x", c.r[rAX], ram.r64(0x20030))
	}
	if ram.r64(0x20040) != 3 || c.cf() != 1 {
		t.Errorf("add mem %#x cf %d", ram.r64(0x20040), c.cf())
	}
}

// FS and GS overrides add the segment base (set through WRMSR FS_BASE /
// GS_BASE and swapped by SWAPGS); other segment bases are ignored.
func TestSegmentBases(t *testing.T) {
	code := []byte{
		0xb9, 0x00, 0x01, 0x00, 0xc0, // mov ecx, FS_BASE
		0xb8, 0x00, 0x00, 0x02, 0x00, // mov eax, 0x20000
		0x31, 0xd2, // xor edx, edx
		0x0f, 0x30, // wrmsr
		0xb9, 0x02, 0x01, 0x00, 0xc0, // mov ecx, KERNEL_GS_BASE
		0xb8, 0x00, 0x10, 0x02, 0x00, // mov eax, 0x21000
		0x0f, 0x30, // wrmsr
		0x0f, 0x01, 0xf8, // swapgs
		0x64, 0x48, 0x8b, 0x1c, 0x25, 0x08, 0x00, 0x00, 0x00, // mov rbx, fs:[8]
		0x65, 0x48, 0x8b, 0x0c, 0x25, 0x08, 0x00, 0x00, 0x00, // mov rcx, gs:[8]
		0x3e, 0x48, 0x8b, 0x14, 0x25, 0x08, 0x00, 0x02, 0x00, // mov rdx, ds:[0x20008]
		0x49, 0x89, 0xc8, // mov r8, rcx
		0x49, 0x89, 0xd1, // mov r9, rdx
		0xb9, 0x02, 0x01, 0x00, 0xc0, // mov ecx, KERNEL_GS_BASE
		0x0f, 0x32, // rdmsr: SWAPGS put the old GS base there (SDM SWAPGS)
		0xf4,
	}
	c, ram := newGuest(t, code)
	_ = c.SetDesc(abi.VM_REG_GUEST_DS, abi.SegDesc{Base: 0x1000, Access: 0x93})
	_ = c.SetDesc(abi.VM_REG_GUEST_GS, abi.SegDesc{Base: 0x1_2345_6000, Access: 0x93})
	ram.w64(0x20008, 0xf5)
	ram.w64(0x21008, 0x65)
	run(t, c, 100, ExitHLT)
	if c.r[rBX] != 0xf5 || c.r[r8] != 0x65 || c.r[r9] != 0xf5 {
		t.Errorf("fs:[8] %#x gs:[8] %#x ds:[..] %#x", c.r[rBX], c.r[r8], c.r[r9])
	}
	if c.r[rDX] != 1 || c.r[rAX] != 0x23456000 {
		t.Errorf("KERNEL_GS_BASE after swapgs %#x:%#x, want 0x1:0x23456000", c.r[rDX], c.r[rAX])
	}
	if d, _ := c.Desc(abi.VM_REG_GUEST_GS); d.Base != 0x21000 {
		t.Errorf("GS base %#x", d.Base)
	}
}
