package userdev

// DebugExitBase and DebugExitSize are where runners put the exit port:
// QEMU's `-device isa-debug-exit,iobase=0xf4,iosize=0x04`, the setting test
// harnesses written for QEMU assume (reference/style-and-ecosystem.md B1).
const (
	DebugExitBase = 0xf4
	DebugExitSize = 4
)

// DebugExit is QEMU's isa-debug-exit: an OUT of value v, of any width from 1
// to 4 bytes, at any port of the window, asks to end the run with exit
// status (v << 1) | 1. v is the whole value written, as in QEMU
// (hw/misc/debugexit.c hands the written value to exit()), so a 32-bit OUT
// of 0x100 asks for 0x201. The status that reaches the parent process is
// taken mod 256 by the OS (exit(3) keeps the low 8 bits), so that request
// ends as 1; Status reports the untruncated value and the runner's exit call
// does the truncation. Because the status is always odd, a guest can never
// make the run look like a clean power-off (0).
//
// Reads return all ones: the device drives nothing on an IN, like an
// unclaimed ISA port.
type DebugExit struct {
	notify    func(status uint64)
	status    uint64
	requested bool
}

// NewDebugExit returns the device. notify, if not nil, is called on the
// first exit request so the runner can stop its vCPU loop.
func NewDebugExit(notify func(status uint64)) *DebugExit {
	return &DebugExit{notify: notify}
}

// In reads all ones.
func (d *DebugExit) In(off uint16, size int) uint32 { return sizeMask(size) }

// Out requests the exit. Only the first request counts: the run is over
// once the runner sees it.
func (d *DebugExit) Out(off uint16, size int, v uint32) {
	if d.requested {
		return
	}
	d.requested = true
	d.status = uint64(v&sizeMask(size))<<1 | 1
	if d.notify != nil {
		d.notify(d.status)
	}
}

// Status returns the requested exit status (before the OS's mod-256) and
// whether the guest asked for one.
func (d *DebugExit) Status() (status uint64, requested bool) {
	return d.status, d.requested
}
