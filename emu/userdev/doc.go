// Package userdev holds the devices a runner adds in userland, as bhyve does
// for the ports vmm's kernel does not claim (reference/vmm-interface.md §7.2:
// ports at or above 0x500 and any port without an in-kernel handler reach
// userspace as VM_EXITCODE_INOUT).
//
// Every device here follows the vm-superio contract
// (reference/style-and-ecosystem.md §A4): it sees only an offset into its own
// port window, never the absolute port, so the same model can sit at COM1 or
// COM2; side effects leave through injected values (an io.Writer, a
// callback). PortBus maps windows to devices.
//
// The devices, at the ports a PC (and QEMU's pc machine) has them: a 16550A
// UART (COM1, 0x3F8, IRQ 4), QEMU's isa-debug-exit (0xF4) and isa-debugcon
// (0x402), the POST code port (0x80), QEMU's fw_cfg (0x510/0x511), and PCI
// configuration mechanism #1 (0xCF8/0xCFC) with bhyve's host bridge at
// 00:00.0.
package userdev

// PortDevice is a device behind a window of I/O ports. off is the offset of
// the first port of the access into the device's window; size is 1, 2 or 4;
// values are little-endian and masked to size bytes by the bus.
type PortDevice interface {
	In(off uint16, size int) uint32
	Out(off uint16, size int, v uint32)
}

// sizeMask returns the mask for an access of size bytes.
func sizeMask(size int) uint32 {
	switch size {
	case 1:
		return 0xff
	case 2:
		return 0xffff
	default:
		return 0xffffffff
	}
}
