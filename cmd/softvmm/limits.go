package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"softvmm/emu/abi"
	"softvmm/emu/vmmapi"
)

// limits stops a runaway guest. --max-insns is exact and deterministic,
// counted over every vCPU: the scheduler (smp.go) gives each turn a
// kernel instruction limit (vmm.VM.SetInsnLimit) that ends it with a DEBUG
// exit on the instruction that makes the total. --timeout is wall
// time: a timer suspends the VM (VM_SUSPEND, as `bhyvectl --suspend` would),
// which the vCPU sees at its next quantum boundary.
type limits struct {
	maxInsns uint64
	timeout  time.Duration
	timer    *time.Timer
	timedOut atomic.Bool
	cpus     int
}

func startLimits(ctx *vmmapi.VMCtx, rf *runFlags) (*limits, error) {
	l := &limits{maxInsns: rf.maxInsns, timeout: rf.timeout, cpus: rf.cpus} // the scheduler applies maxInsns (smp.go)
	if l.timeout > 0 {
		l.timer = time.AfterFunc(l.timeout, func() {
			l.timedOut.Store(true)
			ctx.Suspend(abi.VM_SUSPEND_POWEROFF)
		})
	}
	return l, nil
}

func (l *limits) stop() {
	if l.timer != nil {
		l.timer.Stop()
	}
}

// report says which limit stopped the guest, where, and after how much,
// then dumps its registers: a runaway guest is a bug being looked for.
func (l *limits) report(ctx *vmmapi.VMCtx, id int, out *bufio.Writer, stderr io.Writer, which string, m *machine, n uint64) int {
	out.Flush()
	rip, _ := ctx.GetRegister(id, abi.VM_REG_GUEST_RIP)
	where := ""
	if l.cpus > 1 {
		where = fmt.Sprintf(" on vCPU %d", id)
	}
	switch which {
	case "--max-insns":
		fmt.Fprintf(stderr, "softvmm run: guest stopped by --max-insns %d at rip %#x%s\n", l.maxInsns, rip, where)
	default:
		fmt.Fprintf(stderr, "softvmm run: guest stopped by --timeout %v at rip %#x%s after %d instructions\n", l.timeout, rip, where, n)
	}
	if code, writes := m.post.Last(); writes > 0 {
		fmt.Fprintf(stderr, "softvmm run: last POST code %#02x (%d written)\n", code, writes)
	}
	dumpRegs(ctx, id, stderr)
	return exitLimit
}

// runFiles are the files the flags name.
type runFiles struct {
	debugcon    io.Writer
	trace, exit *bufio.Writer
	closers     []*os.File
}

func openRunFiles(rf *runFlags) (*runFiles, error) {
	f := &runFiles{}
	open := func(name, flag string) (*os.File, error) {
		o, err := os.Create(name)
		if err != nil {
			f.close()
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		f.closers = append(f.closers, o)
		return o, nil
	}
	if rf.debugcon != "" {
		o, err := open(rf.debugcon, "--debugcon")
		if err != nil {
			return nil, err
		}
		f.debugcon = o
	}
	if rf.trace != "" {
		o, err := open(rf.trace, "--trace")
		if err != nil {
			return nil, err
		}
		f.trace = bufio.NewWriterSize(o, 1<<16)
	}
	if rf.traceExits != "" {
		if rf.traceExits == rf.trace && f.trace != nil {
			f.exit = f.trace // one file: instructions and exits interleaved in order
		} else {
			o, err := open(rf.traceExits, "--trace-exits")
			if err != nil {
				return nil, err
			}
			f.exit = bufio.NewWriterSize(o, 1<<16)
		}
	}
	return f, nil
}

// tracer returns the tracer for the files, turning on single-stepping
// when instructions are traced.
func (f *runFiles) tracer(ctx *vmmapi.VMCtx) *tracer {
	t := &tracer{ctx: ctx, insns: f.trace, exits: f.exit}
	if t.insns != nil {
		ctx.SetCapability(0, abi.VM_CAP_MTRAP_EXIT, 1)
	}
	return t
}

func (f *runFiles) close() {
	for _, c := range f.closers {
		c.Close()
	}
}
