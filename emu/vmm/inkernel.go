package vmm

import (
	"errors"

	"golang.org/x/arch/x86/x86asm"

	"softvmm/devices/hpet"
	"softvmm/devices/ioapic"
	"softvmm/devices/lapic"
	"softvmm/emu/abi"
	"softvmm/emu/cpu"
)

// What VM_RUN handles without leaving the kernel: the port table of
// vmm_ioport.c, the LAPIC/IOAPIC/HPET windows of vm_handle_inst_emul with
// vmm_instruction_emul.c's opcode subset, and the LAPIC MSRs
// (reference/vmm-devices.md §1.2–§1.4, §11).

type portDev interface {
	In(port uint16, size int) (uint32, error)
	Out(port uint16, size int, v uint32) error
}

// portHandler is ioport_handler[port]: nil when userspace handles it.
func (p *platform) portHandler(port uint16) portDev {
	switch port {
	case 0x40, 0x41, 0x42, 0x43, 0x61:
		return p.pit
	case 0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1:
		return p.atpic
	case 0x408:
		return p.pm
	case 0x70, 0x71:
		return p.rtc
	}
	return nil
}

// inout is emulate_inout for an in-kernel port; handled false punts. A
// handler error is EIO out of VM_RUN. IN merges into the 32-bit EAX and
// writes RAX back whole, so bits 63:32 are cleared by every in-kernel IN,
// byte and word INs included: §12 #16, reproduced (bhyve guests see it).
func (p *platform) inout(c *cpu.CPU, e *cpu.Exit) (handled bool, err error) {
	h := p.portHandler(e.Port)
	if h == nil {
		return false, nil
	}
	mask := uint32(0xffffffff)
	if e.Bytes < 4 {
		mask = 1<<(8*e.Bytes) - 1
	}
	if !e.In {
		if err := h.Out(e.Port, int(e.Bytes), e.EAX&mask); err != nil {
			return true, abi.EIO
		}
		return true, nil
	}
	v, err := h.In(e.Port, int(e.Bytes))
	if err != nil {
		return true, abi.EIO
	}
	rax, _ := c.Reg(abi.VM_REG_GUEST_RAX)
	eax := uint32(rax)&^mask | v&mask
	c.SetReg(abi.VM_REG_GUEST_RAX, uint64(eax))
	return true, nil
}

// mmioDev is a register window that takes (offset, size, value) accesses.
type mmioDev interface {
	Read(off uint32, size int) (uint64, error)
	Write(off uint32, size int, v uint64) error
}

// mmioHandler routes a GPA as vm_handle_inst_emul does.
func (p *platform) mmioHandler(id int, gpa uint64) (mmioDev, uint32) {
	switch {
	case gpa >= lapic.DefaultBase && gpa < lapic.DefaultBase+lapic.MMIOSize:
		return p.lapics[id], uint32(gpa - lapic.DefaultBase)
	case gpa >= ioapic.DefaultBase && gpa < ioapic.DefaultBase+ioapic.MMIOSize:
		return p.ioapic, uint32(gpa - ioapic.DefaultBase)
	case gpa >= hpet.DefaultBase && gpa < hpet.DefaultBase+hpet.MMIOSize:
		return p.hpet, uint32(gpa - hpet.DefaultBase)
	}
	return nil, 0
}

// errNoEmul: the instruction is outside vmm's decoder (§11.2, §11.3); the
// exit goes to userspace undecoded, as a vmm_decode_instruction failure
// does.
var errNoEmul = errors.New("vmm: instruction not emulated")

// mmio is vm_handle_inst_emul for an in-kernel window: decode, emulate
// against the device, advance RIP. handled false punts to userspace.
func (p *platform) mmio(id int, c *cpu.CPU, e *cpu.Exit) (handled bool, err error) {
	dev, off := p.mmioHandler(id, e.GPA)
	if dev == nil || len(e.Insn) == 0 {
		return false, nil
	}
	if err := emulateMMIO(c, e.Insn, dev, off); err != nil {
		if err == errNoEmul {
			return false, nil
		}
		return true, err
	}
	c.SetReg(abi.VM_REG_GUEST_RIP, e.RIP+uint64(e.InstLen))
	return true, nil
}

// gpr maps an x86asm register to (vm_reg_name, width in bytes, bit shift).
func gpr(r x86asm.Reg) (int32, int, uint) {
	order := [16]int32{abi.VM_REG_GUEST_RAX, abi.VM_REG_GUEST_RCX, abi.VM_REG_GUEST_RDX, abi.VM_REG_GUEST_RBX,
		abi.VM_REG_GUEST_RSP, abi.VM_REG_GUEST_RBP, abi.VM_REG_GUEST_RSI, abi.VM_REG_GUEST_RDI,
		abi.VM_REG_GUEST_R8, abi.VM_REG_GUEST_R9, abi.VM_REG_GUEST_R10, abi.VM_REG_GUEST_R11,
		abi.VM_REG_GUEST_R12, abi.VM_REG_GUEST_R13, abi.VM_REG_GUEST_R14, abi.VM_REG_GUEST_R15}
	switch {
	case r >= x86asm.AL && r <= x86asm.BL:
		return order[r-x86asm.AL], 1, 0
	case r >= x86asm.AH && r <= x86asm.BH:
		return order[r-x86asm.AH], 1, 8
	case r >= x86asm.SPB && r <= x86asm.R15B:
		return order[r-x86asm.SPB+4], 1, 0
	case r >= x86asm.AX && r <= x86asm.R15W:
		return order[r-x86asm.AX], 2, 0
	case r >= x86asm.EAX && r <= x86asm.R15L:
		return order[r-x86asm.EAX], 4, 0
	case r >= x86asm.RAX && r <= x86asm.R15:
		return order[r-x86asm.RAX], 8, 0
	}
	return -1, 0, 0
}

func sizeMask(n int) uint64 {
	if n >= 8 {
		return ^uint64(0)
	}
	return 1<<(8*n) - 1
}

func readGPR(c *cpu.CPU, r x86asm.Reg) (uint64, int, bool) {
	vr, w, sh := gpr(r)
	if vr < 0 {
		return 0, 0, false
	}
	v, _ := c.Reg(vr)
	return v >> sh & sizeMask(w), w, true
}

// writeGPR writes with x86 merge rules: 1 and 2 bytes merge, 4
// zero-extends, 8 replaces (vie_update_register).
func writeGPR(c *cpu.CPU, r x86asm.Reg, val uint64) bool {
	vr, w, sh := gpr(r)
	if vr < 0 {
		return false
	}
	old, _ := c.Reg(vr)
	switch w {
	case 1, 2:
		m := sizeMask(w) << sh
		val = old&^m | val<<sh&m
	case 4:
		val &= 0xffffffff
	}
	c.SetReg(vr, val)
	return true
}

// Status-flag bits.
const (
	fCF = 1 << 0
	fPF = 1 << 2
	fAF = 1 << 4
	fZF = 1 << 6
	fSF = 1 << 7
	fOF = 1 << 11

	fStatus = fCF | fPF | fAF | fZF | fSF | fOF
)

// aluFlags computes the six status flags of a op b = res at width n bytes,
// for op 'a' (AND/OR/TEST: CF=OF=AF=0) or 's' (SUB/CMP).
func aluFlags(op byte, a, b, res uint64, n int) uint64 {
	m := sizeMask(n)
	sign := uint64(1) << (8*n - 1)
	a, b, res = a&m, b&m, res&m
	var f uint64
	if res == 0 {
		f |= fZF
	}
	if res&sign != 0 {
		f |= fSF
	}
	p := byte(res)
	p ^= p >> 4
	p ^= p >> 2
	p ^= p >> 1
	if p&1 == 0 {
		f |= fPF
	}
	if op == 's' {
		if a < b {
			f |= fCF
		}
		if (a^res)&(a^b)&sign != 0 {
			f |= fOF
		}
		if (a^b^res)&0x10 != 0 {
			f |= fAF
		}
	}
	return f
}

func setStatus(c *cpu.CPU, f uint64) {
	rf, _ := c.Reg(abi.VM_REG_GUEST_RFLAGS)
	c.SetReg(abi.VM_REG_GUEST_RFLAGS, rf&^fStatus|f)
}

// opcodeIndex is where the opcode starts: after the legacy prefixes vmm
// knows (§11.2) and a REX byte.
func opcodeIndex(insn []byte) int {
	j := 0
	for j < len(insn) {
		switch insn[j] {
		case 0x66, 0x67, 0xF2, 0xF3, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65:
			j++
			continue
		}
		break
	}
	if j < len(insn) && insn[j]&0xF0 == 0x40 {
		j++
	}
	return j
}

// codeBits is the code size the instruction was fetched with, as
// vie_init takes it from the guest's cpu_mode and CS.D: a moffs is 4
// bytes in 32-bit code, and 66 means the other size in 16-bit code.
func codeBits(c *cpu.CPU) int {
	if c.Paging().CpuMode == abi.CPU_MODE_64BIT {
		return 64
	}
	if d, err := c.Desc(abi.VM_REG_GUEST_CS); err == nil && d.Access&0x4000 != 0 { // D/B (VMX access rights)
		return 32
	}
	return 16
}

// emulateMMIO is vmm_emulate_instruction over FreeBSD 12's opcode set
// (§11.3): MOV 88/89/8A/8B/A1/A3/C6/C7, MOVZX 0F B6/B7, MOVSX 0F BE,
// AND 23, OR 0B, SUB 2B, CMP 39/3B, group 1 80 (CMP only)/81/83 (OR, AND,
// CMP), BT 0F BA /4. Anything else punts to userspace (errNoEmul): the
// LOCK forms and what later FreeBSD added, as in FreeBSD 12, and — a gap
// still to close — FreeBSD 12's MOVS A4/A5, STOS AA/AB, PUSH FF /6 and
// POP 8F /0, which softvmm does not emulate in the kernel yet. Quirks kept (§12 #18): C6/C7 ignore ModRM.reg; 0x80 /1
// and /4 are not emulated.
func emulateMMIO(c *cpu.CPU, insn []byte, dev mmioDev, off uint32) error {
	bits := codeBits(c)
	in, err := x86asm.Decode(insn, bits)
	if err != nil {
		// vmm's C6/C7 ignore ModRM.reg (§12 #18, reproduced), where
		// the SDM makes /1-/7 invalid: decode them as /0.
		j := opcodeIndex(insn)
		if j+1 >= len(insn) || insn[j] != 0xC6 && insn[j] != 0xC7 {
			return errNoEmul
		}
		fixed := append([]byte(nil), insn...)
		fixed[j+1] &^= 0x38
		if in, err = x86asm.Decode(fixed, bits); err != nil {
			return errNoEmul
		}
	}
	for _, pfx := range in.Prefix {
		if pfx&0xff == x86asm.PrefixLOCK&0xff {
			return errNoEmul
		}
	}
	op := byte(in.Opcode >> 24)
	two := op == 0x0F
	if two {
		op = byte(in.Opcode >> 16)
	}
	n := in.MemBytes
	var reg x86asm.Reg
	var imm int64
	hasImm := false
	for _, a := range in.Args {
		switch a := a.(type) {
		case x86asm.Reg:
			reg = a
		case x86asm.Imm:
			imm, hasImm = int64(a), true
		}
	}
	modrmReg := func() byte {
		j := opcodeIndex(insn) + 1
		if two {
			j++
		}
		if j >= len(insn) {
			return 0xff
		}
		return insn[j] >> 3 & 7
	}
	read := func() (uint64, error) { return dev.Read(off, n) }
	write := func(v uint64) error { return dev.Write(off, n, v&sizeMask(n)) }
	switch {
	case !two && (op == 0x88 || op == 0x89 || op == 0xA3):
		v, _, ok := readGPR(c, reg)
		if !ok {
			return errNoEmul
		}
		return write(v)
	case !two && (op == 0xC6 || op == 0xC7):
		if !hasImm {
			return errNoEmul
		}
		return write(uint64(imm))
	case !two && (op == 0x8A || op == 0x8B || op == 0xA1):
		v, err := read()
		if err != nil {
			return err
		}
		writeGPR(c, reg, v)
		return nil
	case two && (op == 0xB6 || op == 0xB7 || op == 0xBE):
		v, err := read()
		if err != nil {
			return err
		}
		if op == 0xBE {
			v = uint64(int64(int8(v)))
		}
		writeGPR(c, reg, v)
		return nil
	case !two && (op == 0x23 || op == 0x0B || op == 0x2B || op == 0x3B || op == 0x39):
		m, err := read()
		if err != nil {
			return err
		}
		r, w, ok := readGPR(c, reg)
		if !ok {
			return errNoEmul
		}
		var res uint64
		switch op {
		case 0x23:
			res = r & m
			setStatus(c, aluFlags('a', r, m, res, w))
		case 0x0B:
			res = r | m
			setStatus(c, aluFlags('a', r, m, res, w))
		case 0x2B, 0x3B:
			res = r - m
			setStatus(c, aluFlags('s', r, m, res, w))
		case 0x39:
			setStatus(c, aluFlags('s', m, r, m-r, w))
		}
		if op == 0x23 || op == 0x0B || op == 0x2B {
			writeGPR(c, reg, res)
		}
		return nil
	case !two && (op == 0x80 || op == 0x81 || op == 0x83):
		sub := modrmReg()
		if op == 0x80 && sub != 7 || sub != 1 && sub != 4 && sub != 7 {
			return errNoEmul
		}
		m, err := read()
		if err != nil {
			return err
		}
		b := uint64(imm) & sizeMask(n)
		switch sub {
		case 1:
			setStatus(c, aluFlags('a', m, b, m|b, n))
			return write(m | b)
		case 4:
			setStatus(c, aluFlags('a', m, b, m&b, n))
			return write(m & b)
		default:
			setStatus(c, aluFlags('s', m, b, m-b, n))
			return nil
		}
	case two && op == 0xBA:
		if modrmReg() != 4 {
			return errNoEmul
		}
		m, err := read()
		if err != nil {
			return err
		}
		bit := uint64(imm) & uint64(8*n-1)
		rf, _ := c.Reg(abi.VM_REG_GUEST_RFLAGS)
		rf = rf&^fCF | m>>bit&1
		c.SetReg(abi.VM_REG_GUEST_RFLAGS, rf)
		return nil
	}
	return errNoEmul
}
