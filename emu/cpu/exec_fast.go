package cpu

import "encoding/binary"

// Specialised forms of the most frequent data-movement instructions in
// compiled code (profile of testdata/cguest.bin): 32/64-bit register moves
// and immediates, and loads, stores and LEA whose address is a base
// register plus displacement (64-bit addressing, no FS/GS), with the
// software-TLB probe inlined. build falls back to the generic handlers
// for every other shape.

func hMov32RR(c *CPU, in *insn) {
	c.r[in.d&15] = uint64(uint32(c.r[in.s&15]))
	in.next.h(c, in.next)
}

func hMovRI64(c *CPU, in *insn) {
	c.r[in.d&15] = in.imm
	in.next.h(c, in.next)
}

// eaBase reports whether in's memory operand is [base+disp] with 64-bit
// addressing and no segment base.
func eaBase(in *insn) bool {
	return in.mem && in.base != noReg && in.index == noReg && in.asz == 8 && in.seg == segNone
}

func hLoad64B(c *CPU, in *insn) {
	va := c.r[in.base&15] + in.disp
	off := va & (pageSz - 1)
	e := &c.tlb.e[(va>>12)%tlbSize]
	if e.rtag == va>>12 && off <= pageSz-8 {
		c.r[in.d&15] = binary.LittleEndian.Uint64(e.page[off:])
		in.next.h(c, in.next)
		return
	}
	v, ok := c.readSlow(va, 8)
	if !ok {
		c.memFault(in)
		return
	}
	c.r[in.d&15] = v
	in.next.h(c, in.next)
}

func hLoad32B(c *CPU, in *insn) {
	va := c.r[in.base&15] + in.disp
	off := va & (pageSz - 1)
	e := &c.tlb.e[(va>>12)%tlbSize]
	if e.rtag == va>>12 && off <= pageSz-4 {
		c.r[in.d&15] = uint64(binary.LittleEndian.Uint32(e.page[off:]))
		in.next.h(c, in.next)
		return
	}
	v, ok := c.readSlow(va, 4)
	if !ok {
		c.memFault(in)
		return
	}
	c.r[in.d&15] = v
	in.next.h(c, in.next)
}

func hStore64B(c *CPU, in *insn) {
	va := c.r[in.base&15] + in.disp
	off := va & (pageSz - 1)
	e := &c.tlb.e[(va>>12)%tlbSize]
	if e.wtag == va>>12 && off <= pageSz-8 {
		binary.LittleEndian.PutUint64(e.page[off:], c.r[in.s&15])
		in.next.h(c, in.next)
		return
	}
	if !c.writeSlow(in, va, 8, c.r[in.s&15]) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

func hStore32B(c *CPU, in *insn) {
	va := c.r[in.base&15] + in.disp
	off := va & (pageSz - 1)
	e := &c.tlb.e[(va>>12)%tlbSize]
	if e.wtag == va>>12 && off <= pageSz-4 {
		binary.LittleEndian.PutUint32(e.page[off:], uint32(c.r[in.s&15]))
		in.next.h(c, in.next)
		return
	}
	if !c.writeSlow(in, va, 4, c.r[in.s&15]) {
		c.memFault(in)
		return
	}
	in.next.h(c, in.next)
}

func hLea64B(c *CPU, in *insn) {
	c.r[in.d&15] = c.r[in.base&15] + in.disp
	in.next.h(c, in.next)
}

func hLea64BI(c *CPU, in *insn) {
	c.r[in.d&15] = c.r[in.base&15] + c.r[in.index&15]<<(in.scale&3) + in.disp
	in.next.h(c, in.next)
}

func hLea32B(c *CPU, in *insn) {
	c.r[in.d&15] = uint64(uint32(c.r[in.base&15] + in.disp))
	in.next.h(c, in.next)
}

func hLea32BI(c *CPU, in *insn) {
	c.r[in.d&15] = uint64(uint32(c.r[in.base&15] + c.r[in.index&15]<<(in.scale&3) + in.disp))
	in.next.h(c, in.next)
}

// No-flags variants of INC/DEC (flag liveness, block.go).

func hInc64Rnf(c *CPU, in *insn) {
	c.r[in.d&15]++
	in.next.h(c, in.next)
}

func hDec64Rnf(c *CPU, in *insn) {
	c.r[in.d&15]--
	in.next.h(c, in.next)
}

func hInc32Rnf(c *CPU, in *insn) {
	c.r[in.d&15] = uint64(uint32(c.r[in.d&15] + 1))
	in.next.h(c, in.next)
}

func hDec32Rnf(c *CPU, in *insn) {
	c.r[in.d&15] = uint64(uint32(c.r[in.d&15] - 1))
	in.next.h(c, in.next)
}
