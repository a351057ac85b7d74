//go:build amd64 && linux

package hostexec

import (
	"syscall"
	"unsafe"
)

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it on
// amd64 (handler, flags, restorer, mask).
type kernelSigaction struct {
	handler, flags, restorer, mask uint64
}

// DefaultFaultSignals gives SIGSEGV, SIGBUS and SIGFPE back their default
// action (terminate, with the signal in the wait status), for a process
// that exists only to run instructions that may fault (the host fault
// probe's child). The Go runtime's own handler would turn them into a
// panic on the faulting code's stack, which is not a Go stack, and die
// with a "newstack" error that no longer names the signal. SIGILL and
// SIGTRAP keep the runtime's handler, which reports them with the PC.
// The core size limit is set to 0 first, since the default action of
// these signals dumps core.
func DefaultFaultSignals() error {
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		return err
	}
	for _, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE} {
		var sa kernelSigaction // SIG_DFL
		if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&sa)), 0, 8, 0, 0); e != 0 {
			return e
		}
	}
	return nil
}
