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

// runFiles are the files the flags name. Every write to them goes
// through an outFile, which keeps the first error, so a full disk or a
// /dev/full shows up as a failed run instead of silently lost output.
type runFiles struct {
	debugcon    io.Writer
	trace, exit *bufio.Writer
	closers     []*outFile
}

// outFile is an output file that remembers its first write error.
type outFile struct {
	f    *os.File
	flag string
	err  error
}

func (o *outFile) Write(p []byte) (int, error) {
	n, err := o.f.Write(p)
	if err != nil && o.err == nil {
		o.err = fmt.Errorf("%s %s: %w", o.flag, o.f.Name(), err)
	}
	return n, err
}

func openRunFiles(rf *runFlags) (*runFiles, error) {
	f := &runFiles{}
	open := func(name, flag string) (*outFile, error) {
		o, err := os.Create(name)
		if err != nil {
			f.close()
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		of := &outFile{f: o, flag: flag}
		f.closers = append(f.closers, of)
		return of, nil
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

// close flushes the traces, closes every file and reports the first
// write or close error.
func (f *runFiles) close() error {
	var first error
	for _, w := range []*bufio.Writer{f.trace, f.exit} {
		if w != nil {
			w.Flush() // an error is kept by the outFile below
		}
	}
	for _, c := range f.closers {
		if err := c.f.Close(); err != nil && c.err == nil {
			c.err = fmt.Errorf("%s %s: %w", c.flag, c.f.Name(), err)
		}
		if first == nil {
			first = c.err
		}
	}
	f.closers = nil
	return first
}
