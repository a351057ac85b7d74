package userdev

import "encoding/binary"

// PCI configuration mechanism #1 (PCI Local Bus Specification 3.0, §3.2.2.3.2):
// a 32-bit address register at 0xCF8 and a 32-bit data window at 0xCFC.
const (
	PCIConfAddrBase = 0xcf8
	PCIConfAddrSize = 4
	PCIConfDataBase = 0xcfc
	PCIConfDataSize = 4

	pciConfEnable = 0x80000000
)

// The host bridge bhyve puts at 00:00.0 (usr.sbin/bhyve/pci_hostbridge.c):
// NetApp's vendor ID for both vendor and device, class 06 (bridge),
// subclass 00 (host), header type 0, and a PCI Express root-port capability.
const (
	HostBridgeVendor = 0x1275
	HostBridgeDevice = 0x1275
)

// Configuration-header offsets and values (PCI 3.0 §6.1; pcireg.h names).
const (
	pcirVendor   = 0x00
	pcirDevice   = 0x02
	pcirCommand  = 0x04
	pcirStatus   = 0x06
	pcirSubclass = 0x0a
	pcirClass    = 0x0b
	pcirCacheLn  = 0x0c
	pcirLatTimer = 0x0d
	pcirHdrType  = 0x0e
	pcirCapPtr   = 0x34
	pcirIntLine  = 0x3c

	pcimStatusCapPresent = 0x0010
	pciyExpress          = 0x10   // capability ID: PCI Express
	pcieCapRootPort      = 0x0042 // version 2 | device/port type 4 (root port) << 4
	pcieCapStart         = 0x40   // bhyve's CAP_START_OFFSET
	pcieCapLen           = 60     // sizeof(struct pciecap)
)

// PCIConfig is configuration mechanism #1 with bhyve's host bridge on bus 0,
// device 0, function 0 and nothing else: every other bus/device/function,
// and any access with the enable bit clear, reads all ones and drops writes,
// which is what a PCI host bridge returns for a master abort.
//
// Following bhyve's pci_emul_cfgaddr, the address register takes only 32-bit
// accesses (narrower ones read all ones and write nothing) and reads back
// the enable bit, bus, device, function and dword-aligned register; bits
// 30:24 and 1:0 read 0. The data window takes 1-, 2- and 4-byte accesses at
// the byte the port names (0xCFC + (reg & 3)).
//
// Register it twice on the bus: Addr() at 0xCF8 (4 ports) and Data() at
// 0xCFC (4 ports).
//
// Port 0xCF9, inside the address register's window, is the PIIX reset
// control register the FADT names as its reset register (value 6): a byte
// write that sets bit 2 (RST_CPU) asks for a reset, which OnReset hears
// (hard is bit 1, SYS_RST). A byte read returns the last value written.
type PCIConfig struct {
	addr uint32
	rcr  uint8
	hb   [256]byte // the host bridge's configuration space

	// OnReset, if not nil, is called on a reset request at 0xCF9.
	OnReset func(hard bool)
}

// NewPCIConfig returns the mechanism with the host bridge in its reset
// state.
func NewPCIConfig() *PCIConfig {
	p := &PCIConfig{}
	le := binary.LittleEndian
	le.PutUint16(p.hb[pcirVendor:], HostBridgeVendor)
	le.PutUint16(p.hb[pcirDevice:], HostBridgeDevice)
	p.hb[pcirClass] = 0x06
	p.hb[pcirSubclass] = 0x00
	p.hb[pcirHdrType] = 0x00
	le.PutUint16(p.hb[pcirStatus:], pcimStatusCapPresent)
	p.hb[pcirCapPtr] = pcieCapStart
	c := p.hb[pcieCapStart:]
	c[0] = pciyExpress
	c[1] = 0 // last capability
	le.PutUint16(c[2:], pcieCapRootPort)
	le.PutUint32(c[12:], 0x411) // link capabilities: 2.5 GT/s, x1
	le.PutUint16(c[18:], 0x11)  // link status: 2.5 GT/s, x1
	return p
}

// Addr is the device for the address register window.
func (p *PCIConfig) Addr() PortDevice { return pciAddrPort{p} }

// Data is the device for the data window.
func (p *PCIConfig) Data() PortDevice { return pciDataPort{p} }

type pciAddrPort struct{ p *PCIConfig }

func (a pciAddrPort) In(off uint16, size int) uint32 {
	if off == 1 && size == 1 {
		return uint32(a.p.rcr)
	}
	if off != 0 || size != 4 {
		return sizeMask(size)
	}
	return a.p.addr
}

func (a pciAddrPort) Out(off uint16, size int, v uint32) {
	if off == 1 && size == 1 {
		old := a.p.rcr
		a.p.rcr = uint8(v) & 0x0e
		if old&0x04 == 0 && v&0x04 != 0 && a.p.OnReset != nil {
			a.p.OnReset(v&0x02 != 0)
		}
		return
	}
	if off == 0 && size == 4 {
		a.p.addr = v & (pciConfEnable | 0x00fffffc)
	}
}

type pciDataPort struct{ p *PCIConfig }

// target returns the selected function's config space and the register
// offset of the access, or nil when no function answers.
func (p *PCIConfig) target(off uint16) ([]byte, int) {
	a := p.addr
	if a&pciConfEnable == 0 || a&0x00ffff00 != 0 { // bus 0, device 0, function 0 only
		return nil, 0
	}
	return p.hb[:], int(a&0xfc) + int(off)
}

func (d pciDataPort) In(off uint16, size int) uint32 {
	cs, reg := d.p.target(off)
	if cs == nil || reg+size > len(cs) {
		return sizeMask(size)
	}
	var v uint32
	for i := 0; i < size; i++ {
		v |= uint32(cs[reg+i]) << (8 * i)
	}
	return v
}

func (d pciDataPort) Out(off uint16, size int, v uint32) {
	cs, reg := d.p.target(off)
	if cs == nil || reg+size > len(cs) {
		return
	}
	for i := 0; i < size; i++ {
		r := reg + i
		if b, ok := hostBridgeWritable(r); ok {
			cs[r] = cs[r]&^b | uint8(v>>(8*i))&b
		}
	}
}

// hostBridgeWritable gives the writable bits of a host-bridge config byte.
// The bridge has no BARs, no interrupt pin and no expansion ROM, so only
// the command register's I/O, memory and bus-master enables, cache line
// size, latency timer, interrupt line, and the PCI Express capability's
// control registers (device, link, slot, root control; bhyve stores writes
// to the capability apart from its ID and next pointer) hold what is written.
func hostBridgeWritable(r int) (uint8, bool) {
	switch r {
	case pcirCommand:
		return 0x07, true
	case pcirCacheLn, pcirLatTimer, pcirIntLine:
		return 0xff, true
	}
	if r >= pcieCapStart+2 && r < pcieCapStart+pcieCapLen {
		switch r - pcieCapStart {
		case 8, 9, 16, 17, 24, 25, 28, 29, 40, 41, 48, 49, 56, 57: // *_control
			return 0xff, true
		}
	}
	return 0, false
}
