package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"time"

	"softvmm/emu/abi"
	"softvmm/emu/boot"
	"softvmm/emu/vmmapi"
)

// The runner's vCPU scheduler: deterministic SMP.
//
// bhyve gives every vCPU its own host thread and lets the host scheduler
// interleave them, so two runs of an SMP guest differ. softvmm run has
// one goroutine that runs the vCPUs in turn, always in vCPU-id order, and
// ends each turn after a fixed number of retired instructions (--quantum):
//
//   - A turn is VM_RUN calls on one vCPU until it has retired the quantum
//     (the kernel's exact instruction limit, vmm.VM.SetInsnLimit, stops it
//     there with a DEBUG exit) or it halts. Exits userspace handles (port
//     I/O, MSRs, SPINUP_AP) are handled and the same turn goes on.
//   - The VM runs in the kernel's cooperative mode (emu/vmm coop.go): an
//     HLT that would sleep returns VM_EXITCODE_HLT instead and leaves the
//     vCPU parked, so the turn passes to the next vCPU; a parked vCPU's
//     next turn resumes its wait and runs guest code only once an
//     interrupt (an IPI, a timer, a device) is deliverable to it. When
//     every vCPU is parked, the one whose turn it is moves the virtual
//     clock to the next device deadline, as a lone halted vCPU does.
//   - Virtual time is the kernel's: each slice of guest code advances the
//     VM clock by its instructions (1 ns each) from where the previous
//     slice, on whichever vCPU, left it. So the clock counts the
//     instructions of all vCPUs in turn order: with N busy vCPUs the guest
//     sees time pass N times faster per vCPU than with one. Device
//     deadlines still stop a slice at their exact instruction; an
//     interrupt for another vCPU is taken at the start of that vCPU's
//     next turn, at most (N-1) quanta later.
//   - An AP joins the rotation when the BSP's STARTUP IPI makes VM_RUN
//     return VM_EXITCODE_SPINUP_AP, in its id's place in the order.
//
// Nothing in a turn depends on host timing, so the same image and flags
// give the same serial bytes, exit status and instruction counts every
// run, with any number of vCPUs (DESIGN.md "Determinism"). The one input
// from outside, a terminal on standard input, is as nondeterministic as
// it is with one vCPU. With one vCPU there are no turns: VM_RUN runs
// until an exit, exactly as before SMP existed.

// defaultQuantum is the default turn length. Shorter turns make a vCPU
// spinning on a lock held by a preempted one waste less; longer turns
// cost fewer VM_RUN round trips. 20000 instructions is a few hundred
// microseconds of host time, so switching costs well under 1 %.
const defaultQuantum = 20000

// smpFlags are --cpus, --quantum and --ap-start.
type smpFlags struct {
	cpus    int
	quantum uint64
	apStart string
	apLong  bool
}

func (s *smpFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&s.cpus, "cpus", 1, "number of vCPUs, `N` from 1 to 16; the BSP starts the others with INIT/SIPI")
	fs.Uint64Var(&s.quantum, "quantum", defaultQuantum, "with several vCPUs, instructions each runs per turn (`N`); the vCPUs take turns in id order, so every run interleaves them identically")
	fs.StringVar(&s.apStart, "ap-start", "real", "how a STARTUP IPI starts an AP: `real` (as bhyve: real mode at vector<<12) or long (64-bit, bhyveload's page tables and GDT, RIP vector<<12; for elf64 and raw64 images)")
}

func (s *smpFlags) finish() error {
	if s.cpus < 1 || s.cpus > abi.VM_MAXCPU {
		return fmt.Errorf("--cpus %d: want 1 to %d", s.cpus, abi.VM_MAXCPU)
	}
	if s.quantum == 0 {
		return fmt.Errorf("--quantum must be at least 1")
	}
	switch s.apStart {
	case "real":
	case "long":
		s.apLong = true
	default:
		return fmt.Errorf("--ap-start %q: want real or long", s.apStart)
	}
	return nil
}

// sched runs the vCPUs (see the comment at the top of this file).
type sched struct {
	ctx     *vmmapi.VMCtx
	rf      *runFlags
	m       *machine
	tr      *tracer
	lim     *limits
	out     *bufio.Writer
	stderr  io.Writer
	running uint32 // vCPUs in the rotation: the BSP and every AP started
	parked  uint32 // vCPUs whose last VM_RUN returned HLT
	next    [abi.VM_MAXCPU]uint64
	cur     int // the vCPU whose turn it is
}

// retired is the instructions all vCPUs have retired.
func (s *sched) retired() uint64 {
	var n uint64
	for id := 0; id < s.rf.cpus; id++ {
		n += s.ctx.Dev().VM().Retired(id)
	}
	return n
}

// loop runs the guest until it ends the run, and returns the exit status.
//
// A round in which every vCPU stays parked in HLT and none retires an
// instruction means the kernel found nothing armed to wake any of them
// (emu/vmm coop.go). Then only the outside can: with input from a
// terminal or a --timeout the runner waits a millisecond and looks again;
// otherwise the guest can never run again, and the run ends with a
// message instead of hanging.
func (s *sched) loop() int {
	s.running = 1
	s.next[0], _ = s.ctx.GetRegister(0, abi.VM_REG_GUEST_RIP)
	for {
		before := s.retired()
		allParked := true
		for id := 0; id < s.rf.cpus; id++ {
			if s.running&(1<<id) == 0 {
				continue
			}
			status, done, parked := s.turn(id)
			if done {
				return status
			}
			allParked = allParked && parked
		}
		if !allParked || s.retired() != before {
			continue
		}
		if s.m.asyncInput || s.lim.timeout > 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		s.out.Flush()
		fmt.Fprintf(s.stderr, "softvmm run: every vCPU waits in HLT and nothing can wake the guest (no timer armed, no input)\n")
		for id := 0; id < s.rf.cpus; id++ {
			if s.running&(1<<id) != 0 {
				if s.rf.cpus > 1 {
					fmt.Fprintf(s.stderr, "vCPU %d:\n", id)
				}
				dumpRegs(s.ctx, id, s.stderr)
			}
		}
		return exitHung
	}
}

// turn runs vCPU id for one turn; done reports that the run is over,
// parked that the turn ended with the vCPU waiting in HLT.
func (s *sched) turn(id int) (status int, done, parked bool) {
	s.cur = id
	vm := s.ctx.Dev().VM()
	smp := s.rf.cpus > 1
	if smp || s.lim.maxInsns != 0 {
		// The turn's end, and --max-insns counted over every vCPU.
		start := vm.Retired(id)
		n := uint64(1<<63 - 1)
		if smp {
			n = s.rf.quantum
		}
		if s.lim.maxInsns != 0 {
			total := s.retired()
			if total >= s.lim.maxInsns {
				return s.lim.report(s.ctx, id, s.out, s.stderr, "--max-insns", s.m, total), true, false
			}
			n = min(n, s.lim.maxInsns-total)
		}
		if err := vm.SetInsnLimit(id, start+n); err != nil {
			fmt.Fprintf(s.stderr, "softvmm run: %v\n", err)
			return exitFatal, true, false
		}
	}
	var ex abi.VMExit
	for {
		if s.tr.insns != nil && s.parked&(1<<id) == 0 {
			s.tr.insn(id, s.next[id]) // a parked vCPU runs nothing until it wakes
		}
		if err := s.ctx.Run(id, &ex); err != nil {
			s.out.Flush()
			fmt.Fprintf(s.stderr, "softvmm run: VM_RUN on vCPU %d: %v\n", id, err)
			if e := vm.LastError(id); e != nil {
				fmt.Fprintf(s.stderr, "softvmm run: %v\n", e)
			}
			return exitFatal, true, false
		}
		s.next[id] = ex.Rip + uint64(ex.InstLength)
		s.parked &^= 1 << id
		if ex.Exitcode == abi.VM_EXITCODE_HLT {
			s.parked |= 1 << id
		}
		if s.tr.exits != nil && (s.tr.insns == nil || ex.Exitcode != abi.VM_EXITCODE_MTRAP) {
			s.tr.exit(id, &ex, vm.Retired(id))
		}
		status, done, end := s.exit(id, &ex)
		if done || end {
			return status, done, ex.Exitcode == abi.VM_EXITCODE_HLT
		}
	}
}

// exit handles one VM exit of vCPU id in userspace, as bhyve's vmexit
// handlers do: done ends the run with status, end ends the turn.
func (s *sched) exit(id int, ex *abi.VMExit) (status int, done, end bool) {
	ctx, m, lim, out, stderr := s.ctx, s.m, s.lim, s.out, s.stderr
	switch ex.Exitcode {
	case abi.VM_EXITCODE_INOUT:
		io := ex.Inout()
		val := m.portIO(io.Port, int(io.Bytes), io.In, io.EAX)
		if status, ok := m.dbg.Status(); ok {
			return int(status & 0xff), true, false // what the OS keeps of an exit status
		}
		if io.In {
			// Merge the value under the access size, as bhyve's
			// emulate_inout does.
			rax, _ := ctx.GetRegister(id, abi.VM_REG_GUEST_RAX)
			mask := uint64(1)<<(8*uint(io.Bytes)) - 1
			ctx.SetRegister(id, abi.VM_REG_GUEST_RAX, rax&^mask|uint64(val)&mask)
		}
	case abi.VM_EXITCODE_INOUT_STR:
		if status, done := s.inoutStr(id, ex); done {
			return status, true, false
		}
	case abi.VM_EXITCODE_RDMSR:
		// An MSR neither the interpreter nor the kernel owns reads as
		// 0, as with bhyve -w; writes are ignored.
		ctx.SetRegister(id, abi.VM_REG_GUEST_RAX, 0)
		ctx.SetRegister(id, abi.VM_REG_GUEST_RDX, 0)
	case abi.VM_EXITCODE_WRMSR, abi.VM_EXITCODE_REQIDLE, abi.VM_EXITCODE_BOGUS, abi.VM_EXITCODE_MTRAP:
	case abi.VM_EXITCODE_HLT:
		return 0, false, true // parked in HLT: the next vCPU's turn
	case abi.VM_EXITCODE_DEBUG:
		if lim.maxInsns != 0 {
			if total := s.retired(); total >= lim.maxInsns {
				return lim.report(ctx, id, out, stderr, "--max-insns", m, total), true, false
			}
		}
		return 0, false, true // the quantum is used up
	case abi.VM_EXITCODE_SPINUP_AP:
		if err := s.spinupAP(ex.SpinupAP()); err != nil {
			out.Flush()
			fmt.Fprintf(stderr, "softvmm run: starting vCPU %d: %v\n", ex.SpinupAP().Vcpu, err)
			return exitFatal, true, false
		}
	case abi.VM_EXITCODE_SUSPENDED:
		out.Flush()
		if lim.timedOut.Load() {
			return lim.report(ctx, id, out, stderr, "--timeout", m, s.retired()), true, false
		}
		if ex.Suspended() == abi.VM_SUSPEND_TRIPLEFAULT {
			fmt.Fprintf(stderr, "softvmm run: guest triple fault at rip %#x%s\n", ex.Rip, s.onCPU(id))
			dumpRegs(ctx, id, stderr)
			return exitTripleFault, true, false
		}
		if m.stop != "" && m.stop != "ACPI S5 power-off" {
			fmt.Fprintf(stderr, "softvmm run: guest %s\n", m.stop)
		}
		return exitOK, true, false
	case abi.VM_EXITCODE_INST_EMUL:
		out.Flush()
		fmt.Fprintf(stderr, "softvmm run: guest accessed guest-physical address %#x, which no RAM or device backs, at rip %#x%s\n",
			ex.InstEmul().Gpa, ex.Rip, s.onCPU(id))
		dumpRegs(ctx, id, stderr)
		return exitFatal, true, false
	default:
		out.Flush()
		fmt.Fprintf(stderr, "softvmm run: unhandled exit %s at rip %#x%s\n", abi.ExitcodeName(ex.Exitcode), ex.Rip, s.onCPU(id))
		dumpRegs(ctx, id, stderr)
		return exitFatal, true, false
	}
	return 0, false, false
}

// onCPU names the vCPU in a message when there are several.
func (s *sched) onCPU(id int) string {
	if s.rf.cpus == 1 {
		return ""
	}
	return fmt.Sprintf(" on vCPU %d", id)
}

// spinupAP is bhyve's vmexit_spinup_ap (reference/vmm-interface.md §7.4):
// give the AP its power-on state with CS from the STARTUP vector (§14.3),
// the unrestricted-guest capability real mode needs, activate it, and put
// it in the rotation. A STARTUP IPI for a vCPU the machine does not have
// (the tables list --cpus of them) goes nowhere, as on hardware.
func (s *sched) spinupAP(sp abi.SpinupAPExit) error {
	id := int(sp.Vcpu)
	if id <= 0 || id >= s.rf.cpus || s.running&(1<<id) != 0 {
		return nil
	}
	if s.rf.apLong {
		if err := boot.StartAPLongMode(s.ctx, id, sp.Rip); err != nil {
			return err
		}
	} else {
		st := boot.APStartupState(sp.Rip)
		if err := st.Apply(s.ctx, id); err != nil {
			return err
		}
		// As for a ROM boot (boot.go), the capability is asked for and
		// its absence (ENOENT while the interpreter lacks real mode) left
		// to show at the AP's first instruction.
		s.ctx.SetCapability(id, abi.VM_CAP_UNRESTRICTED_GUEST, 1)
	}
	if s.tr.insns != nil {
		s.ctx.SetCapability(id, abi.VM_CAP_MTRAP_EXIT, 1)
	}
	if err := s.ctx.ActivateCPU(id); err != nil {
		return fmt.Errorf("VM_ACTIVATE_CPU: %w", err)
	}
	s.next[id], _ = s.ctx.GetRegister(id, abi.VM_REG_GUEST_RIP)
	s.running |= 1 << id
	return nil
}
