package main

import (
	"bufio"
	"io"
	"os"

	"softvmm/emu/abi"
	"softvmm/emu/userdev"
	"softvmm/emu/vmmapi"
)

// machine is the runner's userland devices and what they asked for.
type machine struct {
	ports *userdev.PortBus
	uart  *userdev.UART
	dbg   *userdev.DebugExit
	post  *userdev.POST

	stop string // why a device asked to end the run ("" while running)

	// asyncInput: COM1 reads a terminal in the background, so a halted
	// guest may still be woken from outside (smp.go).
	asyncInput bool
}

// newMachine puts bhyve's and QEMU's userland devices on their ports
// (emu/userdev): COM1 to out, debug-exit, debugcon to dbgcon (nil drops
// it), the POST port, fw_cfg, PCI configuration mechanism #1 with the
// host bridge and the 0xCF9 reset register, and the ACPI PM1 blocks whose
// S5 powers the guest off. COM1's interrupt output drives ISA IRQ 4
// through VM_ISA_ASSERT_IRQ/VM_ISA_DEASSERT_IRQ, as bhyve's uart does.
func newMachine(ctx *vmmapi.VMCtx, rf *runFlags, stdin io.Reader, out *bufio.Writer, dbgcon io.Writer) *machine {
	m := &machine{ports: &userdev.PortBus{}}
	m.uart = userdev.NewUART(lineFlusher{out})
	m.uart.SetIRQ(isaLine(ctx, userdev.COM1IRQ))
	if in, async := serialInput(stdin); in != nil {
		m.uart.SetInput(in)
		m.asyncInput = async
	}
	m.dbg = userdev.NewDebugExit(nil)
	m.post = userdev.NewPOST(nil)
	pci := userdev.NewPCIConfig()
	pci.OnReset = func(hard bool) {
		m.stop = "reset"
		ctx.Suspend(abi.VM_SUSPEND_RESET)
	}
	pm := userdev.NewACPIPM(func(typ int) {
		if typ == userdev.SlpTypS5 {
			m.stop = "ACPI S5 power-off"
			ctx.Suspend(abi.VM_SUSPEND_POWEROFF)
		}
	})
	for _, d := range []struct {
		base, size uint16
		dev        userdev.PortDevice
	}{
		{userdev.COM1Base, userdev.COM1Size, m.uart},
		{userdev.DebugExitBase, userdev.DebugExitSize, m.dbg},
		{userdev.DebugconBase, userdev.DebugconSize, userdev.NewDebugcon(dbgcon)},
		{userdev.POSTBase, userdev.POSTSize, m.post},
		{userdev.FwCfgBase, userdev.FwCfgSize, newFwCfg(rf)},
		{userdev.PCIConfAddrBase, userdev.PCIConfAddrSize, pci.Addr()},
		{userdev.PCIConfDataBase, userdev.PCIConfDataSize, pci.Data()},
		{userdev.PM1Base, userdev.PM1Size, pm},
	} {
		if err := m.ports.Register(d.base, d.size, d.dev); err != nil {
			panic(err) // fixed, non-overlapping windows: a clash is a bug here
		}
	}
	return m
}

// portIO is one port access from the guest. A port no device owns reads
// as all ones, as bhyve's default handler and QEMU's unassigned I/O give,
// so a driver probing for absent hardware sees a floating bus, not a
// device returning zeros; writes to it are dropped.
func (m *machine) portIO(port uint16, size int, in bool, val uint32) uint32 {
	v, ok := m.ports.Dispatch(port, size, in, val)
	if !ok && in {
		return 0xffffffff
	}
	return v
}

// serialInput is what COM1 receives: standard input when it is a file
// (read as the guest drains the receiver, so the run stays deterministic)
// or a terminal (read in the background, async; typed bytes arrive when
// they arrive), nothing otherwise.
func serialInput(stdin io.Reader) (in io.Reader, async bool) {
	f, ok := stdin.(*os.File)
	if !ok {
		return nil, false
	}
	st, err := f.Stat()
	if err != nil {
		return nil, false
	}
	switch {
	case st.Mode().IsRegular():
		return f, false
	case st.Mode()&os.ModeCharDevice != 0:
		if null, err := os.Stat(os.DevNull); err == nil && os.SameFile(st, null) {
			return nil, false // never has input: not a terminal
		}
		return userdev.NewAsyncReader(f), true
	}
	return nil, false
}

// isaLine returns the interrupt-output callback of a device wired to ISA
// IRQ irq (8259 pin and IOAPIC pin irq): one VM_ISA_ASSERT_IRQ when the
// output goes high, one VM_ISA_DEASSERT_IRQ when it goes low, nothing when
// it reports the level the line already has.
//
// The last rule is what makes the line work. vmm's pins are assertion
// counts that deliver on the count's 0→1 step (vioapic and vatpic acnt;
// reference/vmm-devices.md §3.4, §4). A deassert of a line that was
// never asserted takes the count to −1, after which every assert only
// brings it back to 0 and an edge-triggered pin never interrupts again.
// UART.SetIRQ reports the reset level (low) at once, so forwarding every
// report did exactly that to IRQ 4: Linux's interrupt-driven tty output
// (8250 IER.THRI) waited forever for its first THRE interrupt after "Run
// /init as init process". The line starts low, as the pins do.
func isaLine(ctx *vmmapi.VMCtx, irq int32) func(level bool) {
	high := false
	return func(level bool) {
		if level == high {
			return
		}
		high = level
		isa := abi.VMIsaIRQ{AtpicIrq: irq, IoapicIrq: irq}
		cmd := abi.VM_ISA_DEASSERT_IRQ
		if level {
			cmd = abi.VM_ISA_ASSERT_IRQ
		}
		ctx.Dev().Ioctl(ctx.Thread(), cmd, &isa) // no interrupt controllers yet: ENOTTY, and polling still works
	}
}
