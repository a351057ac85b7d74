package main

import (
	"fmt"

	"softvmm/emu/abi"
)

// String I/O (VM_EXITCODE_INOUT_STR), emulated the way bhyve's
// emulate_inout does it (reference/vmm-interface.md §3.1, §7.1): vmm
// leaves every INS/OUTS to userspace, which walks the elements from the
// index register through the segment and the guest page tables, moves
// each one between guest memory and the port device, writes back
// RSI/RDI and RCX at the address size, and restarts the instruction while
// RCX != 0. At most strIOBatch elements go per exit, as in bhyve, so a
// long REP still lets the kernel take interrupts and stop at the
// instruction limit between batches. A segmentation fault, #AC or page
// fault ends the batch with the exception injected and the instruction
// restarted, the registers naming the faulting element.

// strIOBatch is how many elements one exit moves (bhyve: 16).
const strIOBatch = 16

// strIOFault is an exception the segmentation or alignment checks raise.
type strIOFault struct {
	vector int
	err    uint32
}

// strIOGLA is vie_calculate_gla: the linear address of an access of size
// bytes at offset through segment sd (SDM Vol. 3 §3.4.5, §5.3: type,
// limit, expand-down; in 64-bit mode only FS/GS have a base and the
// address must be canonical). A failed check is #SS(0) for SS, else
// #GP(0).
func strIOGLA(mode int32, segName int32, sd abi.SegDesc, offset uint64, bytes, addrsize int, write bool) (uint64, *strIOFault) {
	bad := &strIOFault{vector: 13}
	if segName == abi.VM_REG_GUEST_SS {
		bad.vector = 12
	}
	amask := uint64(1)<<(8*uint(addrsize)) - 1
	if addrsize == 8 {
		amask = ^uint64(0)
	}
	offset &= amask
	if mode == abi.CPU_MODE_64BIT {
		gla := offset
		if segName == abi.VM_REG_GUEST_FS || segName == abi.VM_REG_GUEST_GS {
			gla += sd.Base
		}
		for _, a := range []uint64{gla, gla + uint64(bytes) - 1} {
			if top := int64(a) >> 47; top != 0 && top != -1 {
				return 0, bad
			}
		}
		return gla, nil
	}
	acc := sd.Access
	if mode != abi.CPU_MODE_REAL {
		if acc&0x10000 != 0 || acc&0x80 == 0 || acc&0x10 == 0 {
			return 0, bad // unusable, not present, or a system segment
		}
		typ := acc & 0xf
		switch {
		case typ&8 != 0 && (write || typ&2 == 0):
			return 0, bad // code: never writable, readable only with R
		case typ&8 == 0 && write && typ&2 == 0:
			return 0, bad // read-only data
		}
	}
	last := offset + uint64(bytes) - 1
	if acc&0x8 == 0 && acc&0x4 != 0 && mode != abi.CPU_MODE_REAL {
		// Expand-down: valid offsets are limit+1 .. 0xffff or 0xffffffff.
		top := uint64(0xffff)
		if acc&0x4000 != 0 {
			top = 0xffffffff
		}
		if offset <= uint64(sd.Limit) || last > top {
			return 0, bad
		}
	} else if last > uint64(sd.Limit) || last < offset {
		return 0, bad
	}
	return (sd.Base + offset) & 0xffffffff, nil
}

// updateReg is vie_update_register: a 1- or 2-byte write keeps the upper
// bits, a 4-byte write zero-extends, an 8-byte write replaces.
func updateReg(old, v uint64, size int) uint64 {
	switch size {
	case 2:
		return old&^0xffff | v&0xffff
	case 4:
		return v & 0xffffffff
	}
	return v
}

// inoutStr emulates one INOUT_STR exit of vCPU id. done ends the run
// (the debug-exit port was written, or emulation failed).
func (s *sched) inoutStr(id int, ex *abi.VMExit) (status int, done bool) {
	ctx, m := s.ctx, s.m
	vis := ex.InoutStr()
	bytes, in, port := int(vis.Inout.Bytes), vis.Inout.In, vis.Inout.Port
	idxReg := int32(abi.VM_REG_GUEST_RSI)
	prot := int32(abi.PROT_READ)
	if in {
		idxReg, prot = abi.VM_REG_GUEST_RDI, abi.PROT_WRITE
	}
	fail := func(err error) (int, bool) {
		s.out.Flush()
		fmt.Fprintf(s.stderr, "softvmm run: string I/O at rip %#x%s: %v\n", ex.Rip, s.onCPU(id), err)
		dumpRegs(ctx, id, s.stderr)
		return exitFatal, true
	}
	index, count := vis.Index, vis.Count
	var buf [4]byte
	for n := 0; n < strIOBatch && count > 0; n++ {
		gla, f := strIOGLA(vis.Paging.CpuMode, vis.SegName, vis.SegDesc, index, bytes, int(vis.Addrsize), in)
		if f == nil && vis.Paging.Cpl == 3 && vis.Cr0&(1<<18) != 0 && vis.Rflags&(1<<18) != 0 && gla&uint64(bytes-1) != 0 {
			f = &strIOFault{vector: 17} // #AC(0)
		}
		if f != nil {
			if err := ctx.InjectFault(id, f.vector, true, f.err); err != nil {
				return fail(err)
			}
			break
		}
		// The element may straddle a page: translate each byte's page.
		var gpas [4]uint64
		faulted := false
		for i := 0; i < bytes; i++ {
			if i > 0 && (gla+uint64(i))&0xfff != 0 {
				gpas[i] = gpas[i-1] + 1
				continue
			}
			gpa, fault, err := ctx.GLA2GPA(id, vis.Paging, gla+uint64(i), prot)
			if err != nil {
				return fail(err)
			}
			if fault {
				faulted = true // the kernel injected the #PF
				break
			}
			gpas[i] = gpa
		}
		if faulted {
			break
		}
		var val uint32
		if !in {
			for i := 0; i < bytes; i++ {
				if err := ctx.ReadGPA(gpas[i], buf[i:i+1]); err != nil {
					return fail(fmt.Errorf("guest-physical %#x: %v", gpas[i], err))
				}
				val |= uint32(buf[i]) << (8 * i)
			}
		}
		v := m.portIO(port, bytes, in, val)
		if st, ok := m.dbg.Status(); ok {
			return int(st & 0xff), true
		}
		if in {
			for i := 0; i < bytes; i++ {
				buf[i] = byte(v >> (8 * i))
				if err := ctx.WriteGPA(gpas[i], buf[i:i+1]); err != nil {
					return fail(fmt.Errorf("guest-physical %#x: %v", gpas[i], err))
				}
			}
		}
		if vis.Rflags&(1<<10) != 0 { // DF
			index -= uint64(bytes)
		} else {
			index += uint64(bytes)
		}
		count--
	}
	if err := ctx.SetRegister(id, idxReg, updateReg(vis.Index, index, int(vis.Addrsize))); err != nil {
		return fail(err)
	}
	if vis.Inout.Rep {
		rcx, err := ctx.GetRegister(id, abi.VM_REG_GUEST_RCX)
		if err != nil {
			return fail(err)
		}
		if err := ctx.SetRegister(id, abi.VM_REG_GUEST_RCX, updateReg(rcx, count, int(vis.Addrsize))); err != nil {
			return fail(err)
		}
	}
	if count != 0 {
		if err := ctx.RestartInstruction(id); err != nil {
			return fail(err)
		}
	}
	return 0, false
}
