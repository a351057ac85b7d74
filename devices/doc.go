// Package devices holds softvmm's in-kernel platform device models, one
// package per device (lapic, ioapic, atpic, pit, hpet, rtc, pmtimer), as
// FreeBSD's vmm keeps them in sys/amd64/vmm/io (reference/vmm-devices.md).
//
// Each device owns only its own register window, takes (offset, size,
// value) accesses, raises interrupts through an injected line, and reads
// time only from the VM's clock. Devices never import the interpreter;
// emu/vmm wires them to it (emu/vmm/platform.go): VM_RUN handles their
// ports and MMIO windows in the kernel, as vmm does, and every other
// access leaves for userspace.
//
// Each device package's coverage_test.go lists every row of its section
// of reference/vmm-devices.md (registers, reset values, read-only bits,
// write side effects, §12 known bugs) beside the test that checks it, and
// TestReferenceCoverage (devices/internal/reftest) fails when a listed
// test lacks the row's `§x.y row "name"` tag or a tag has no row. Rows no
// device-level test can reach (wiring in emu/vmm, CPUID) say where they
// are covered instead.
package devices
