package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"

	"golang.org/x/arch/x86/x86asm"

	"softvmm/emu/abi"
	"softvmm/emu/vmmapi"
)

// tracer writes --trace and --trace-exits lines. Instruction tracing runs
// the vCPU one instruction per VM_RUN through the monitor-trap capability
// (VM_CAP_MTRAP_EXIT, as a debugger single-steps a bhyve guest), so the
// interpreter's hot path is the same whether tracing is on or not: an
// untraced run never reaches this code.
//
// Each instruction line is written before the instruction runs: vCPU, RIP,
// the instruction's bytes, and its GNU-syntax disassembly (x86asm, in the
// mode CS selects). An instruction that faults is listed, and the next line
// is the handler's first instruction. Exit lines name the VM exit as
// userspace sees it, with the instructions retired so far.
type tracer struct {
	ctx   *vmmapi.VMCtx
	insns *bufio.Writer // nil: no instruction trace
	exits *bufio.Writer // nil: no exit trace
	buf   [15]byte
}

func (t *tracer) flush() {
	if t.insns != nil {
		t.insns.Flush()
	}
	if t.exits != nil {
		t.exits.Flush()
	}
}

// insn writes the line for the instruction vCPU vcpu is about to run at
// rip.
func (t *tracer) insn(vcpu int, rip uint64) {
	n, mode, err := t.fetch(vcpu, rip)
	if err != nil {
		fmt.Fprintf(t.insns, "%d %016x %-30s (%v)\n", vcpu, rip, "??", err)
		return
	}
	b := t.buf[:n]
	inst, err := x86asm.Decode(b, mode)
	if err != nil {
		fmt.Fprintf(t.insns, "%d %016x %-30s (bad) %v\n", vcpu, rip, hex.EncodeToString(b[:min(n, 1)]), err)
		return
	}
	fmt.Fprintf(t.insns, "%d %016x %-30s %s\n", vcpu, rip, hex.EncodeToString(b[:inst.Len]), x86asm.GNUSyntax(inst, rip, nil))
}

// fetch reads up to 15 instruction bytes at CS:rip, translating through
// the guest's page tables with VM_GLA2GPA_NOFAULT, and returns how many it
// got and the decoding mode (16, 32 or 64).
func (t *tracer) fetch(vcpu int, rip uint64) (int, int, error) {
	reg := func(r int32) uint64 { v, _ := t.ctx.GetRegister(vcpu, r); return v }
	cr0, cr4, efer := reg(abi.VM_REG_GUEST_CR0), reg(abi.VM_REG_GUEST_CR4), reg(abi.VM_REG_GUEST_EFER)
	cs, err := t.ctx.GetDesc(vcpu, abi.VM_REG_GUEST_CS)
	if err != nil {
		return 0, 0, err
	}
	pg := abi.VMGuestPaging{Cr3: reg(abi.VM_REG_GUEST_CR3), Cpl: int32(cs.Access >> 5 & 3)}
	mode, gla := 16, cs.Base+rip
	switch {
	case efer&0x400 != 0 && cs.Access&abi.SEG_DESC_L != 0:
		mode, gla, pg.CpuMode = 64, rip, abi.CPU_MODE_64BIT
	case cr0&1 != 0:
		pg.CpuMode = abi.CPU_MODE_PROTECTED
		if cs.Access&0x4000 != 0 {
			mode = 32
		}
		gla &= 0xffffffff
	default:
		pg.CpuMode = abi.CPU_MODE_REAL
		gla &= 0xfffff
	}
	switch {
	case cr0&0x80000000 == 0:
		pg.PagingMode = abi.PAGING_MODE_FLAT
	case efer&0x400 != 0:
		pg.PagingMode = abi.PAGING_MODE_64
	case cr4&0x20 != 0:
		pg.PagingMode = abi.PAGING_MODE_PAE
	default:
		pg.PagingMode = abi.PAGING_MODE_32
	}
	n := 0
	for n < len(t.buf) {
		va := gla + uint64(n)
		g := abi.VMGla2Gpa{Vcpuid: int32(vcpu), Prot: abi.PROT_EXEC, Gla: va, Paging: pg}
		if err := t.ctx.Dev().Ioctl(t.ctx.Thread(), abi.VM_GLA2GPA_NOFAULT, &g); err != nil || g.Fault != 0 {
			break
		}
		chunk := min(len(t.buf)-n, int(4096-va&0xfff))
		if t.ctx.ReadGPA(g.Gpa, t.buf[n:n+chunk]) != nil {
			break
		}
		n += chunk
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("linear address %#x is not mapped to RAM", gla)
	}
	return n, mode, nil
}

// exit writes the line for one VM exit.
func (t *tracer) exit(vcpu int, ex *abi.VMExit, retired uint64) {
	w := t.exits
	fmt.Fprintf(w, "%d exit %s rip=%#x insns=%d", vcpu, abi.ExitcodeName(ex.Exitcode), ex.Rip, retired)
	switch ex.Exitcode {
	case abi.VM_EXITCODE_INOUT:
		io := ex.Inout()
		dir := "out"
		if io.In {
			dir = "in"
		}
		fmt.Fprintf(w, " %s port=%#x bytes=%d", dir, io.Port, io.Bytes)
		if !io.In {
			fmt.Fprintf(w, " value=%#x", io.EAX)
		}
	case abi.VM_EXITCODE_RDMSR, abi.VM_EXITCODE_WRMSR:
		m := ex.Msr()
		fmt.Fprintf(w, " msr=%#x", m.Code)
		if ex.Exitcode == abi.VM_EXITCODE_WRMSR {
			fmt.Fprintf(w, " value=%#x", m.Wval)
		}
	case abi.VM_EXITCODE_INST_EMUL:
		fmt.Fprintf(w, " gpa=%#x", ex.InstEmul().Gpa)
	case abi.VM_EXITCODE_SUSPENDED:
		fmt.Fprintf(w, " how=%d", ex.Suspended())
	}
	io.WriteString(w, "\n")
}
