// Package tables builds the firmware tables a guest reads to learn what
// machine it is on: an Intel MultiProcessor table (MP spec 1.4) and ACPI
// tables (RSDP, RSDT, XSDT, MADT, FADT, FACS, HPET, DSDT), describing
// exactly the platform softvmm emulates (reference/vmm-devices.md):
//
//   - one local APIC per vCPU at 0xFEE00000, APIC ID = vCPU id, version 0x10
//     (§2; devices/lapic.Version);
//   - one I/O APIC at 0xFEC00000 with 32 pins, GSI base 0, version 0x11
//     (§3.1, §3.2), ISA IRQ 0 on pin 2 (§3.5), the 8259 pair's INTR on pin 0;
//   - the HPET at 0xFED00000, capabilities 0x80860701 (§6.2);
//   - the ACPI PM timer at I/O 0x408, 32 bits (§8);
//   - the PM1 event and control blocks at 0x600 and 0x604 (QEMU's PIIX4
//     places; bhyve's 0x400 would collide with QEMU's debugcon at 0x402,
//     which softvmm also has), the SCI on IRQ 9,
//     and the reset register at 0xCF9, which the runner's userland devices
//     provide (emu/userdev), with S5 (power-off) as SLP_TYP 5.
//
// Everything goes in the BIOS area [0xF0000, 0x100000), where both Linux's
// RSDP scan (0xE0000-0xFFFFF) and its MP floating-pointer scan
// (0xF0000-0xFFFFF) look, as bhyve places its tables. The loaders mark that
// range reserved in the memory map.
package tables

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Where the tables go. Base is 64 KiB below 1 MiB.
const (
	Base = 0xf0000
	End  = 0x100000
)

// The emulated platform's fixed addresses.
const (
	LAPICBase     = 0xfee00000
	LAPICVersion  = 0x10
	IOAPICBase    = 0xfec00000
	IOAPICVersion = 0x11
	IOAPICPins    = 32
	HPETBase      = 0xfed00000
	HPETBlockID   = 0x80860701 // low 32 bits of the capabilities register

	PM1aEvtBlk = 0x600 // PM1 status (2 bytes) and enable (2 bytes), where QEMU's PIIX4 has them
	PM1aCntBlk = 0x604 // PM1 control (2 bytes)
	PMTmrBlk   = 0x408 // ACPI PM timer (4 bytes), in the kernel
	SCIIRQ     = 9
	ResetPort  = 0xcf9 // PIIX-style reset control register
	ResetValue = 0x06  // CPU reset | system reset
	SlpTypS5   = 5     // SLP_TYP the DSDT's \_S5 gives for power-off
	RTCCentury = 0x32  // CMOS century byte (the vrtc keeps it there)
)

// Platform is what varies between VMs.
type Platform struct {
	CPUs int // vCPUs 0..CPUs-1, APIC IDs equal to vCPU ids
}

// Image is the built table area.
type Image struct {
	Data []byte // to be written at guest-physical Base
	RSDP uint64 // guest-physical address of the RSDP
	MPFP uint64 // guest-physical address of the MP floating pointer
	// Tables lists each ACPI table (signature and address), in the order
	// they were laid out.
	Tables []Table
}

// Table names one ACPI table in an Image.
type Table struct {
	Sig  string
	Addr uint64
	Len  int
}

// ErrCPUs is returned for a CPU count the tables cannot describe.
var ErrCPUs = errors.New("tables: CPU count out of range")

// MaxCPUs is what 8-bit APIC IDs allow with the I/O APIC's ID after them.
const MaxCPUs = 254

// OEM identification written into every table.
const (
	oemID       = "SOFTVM"
	oemRevision = 1
	creatorID   = "SVMM"
	creatorRev  = 1
)

// Build lays out the MP table and the ACPI tables for p.
func Build(p Platform) (*Image, error) {
	if p.CPUs < 1 || p.CPUs > MaxCPUs {
		return nil, fmt.Errorf("%w: %d (1 to %d)", ErrCPUs, p.CPUs, MaxCPUs)
	}
	b := &builder{img: &Image{Data: make([]byte, End-Base)}}
	b.img.MPFP = b.mpTable(p)

	rsdp := b.alloc(36, 16)
	rsdt := b.alloc(36+4*4, 16) // FADT, MADT, HPET, (spare)
	xsdt := b.alloc(36+8*4, 16)
	facs := b.alloc(64, 64) // the FACS must be 64-byte aligned
	b.put(facs, buildFACS())
	dsdt := b.add(buildDSDT(), "DSDT")
	fadt := b.add(buildFADT(facs, dsdt), "FACP")
	madt := b.add(buildMADT(p), "APIC")
	hpet := b.add(buildHPET(), "HPET")

	ptrs := []uint64{fadt, madt, hpet}
	r := header("RSDT", 1, "SVRSDT")
	for _, a := range ptrs {
		r = binary.LittleEndian.AppendUint32(r, uint32(a))
	}
	b.put(rsdt, finish(r))
	x := header("XSDT", 1, "SVXSDT")
	for _, a := range ptrs {
		x = binary.LittleEndian.AppendUint64(x, a)
	}
	b.put(xsdt, finish(x))
	b.put(rsdp, buildRSDP(rsdt, xsdt))
	b.img.RSDP = rsdp
	b.img.Tables = append([]Table{
		{"RSDT", rsdt, len(r)}, {"XSDT", xsdt, len(x)}, {"FACS", facs, 64},
	}, b.img.Tables...)
	return b.img, nil
}

type builder struct {
	img  *Image
	next uint64 // next free guest-physical address
}

// alloc reserves n bytes at the next multiple of align.
func (b *builder) alloc(n int, align uint64) uint64 {
	if b.next == 0 {
		b.next = Base
	}
	a := (b.next + align - 1) &^ (align - 1)
	b.next = a + uint64(n)
	if b.next > End {
		panic("tables: the table area overflowed") // a bug here, not bad input: sizes are bounded by MaxCPUs
	}
	return a
}

func (b *builder) put(gpa uint64, p []byte) { copy(b.img.Data[gpa-Base:], p) }

// add places a finished table and records it.
func (b *builder) add(t []byte, sig string) uint64 {
	a := b.alloc(len(t), 16)
	b.put(a, t)
	b.img.Tables = append(b.img.Tables, Table{sig, a, len(t)})
	return a
}

// Checksum returns the byte that makes p sum to 0 mod 256 when stored in
// its checksum field (whose current value is counted).
func checksum(p []byte) uint8 {
	var s uint8
	for _, c := range p {
		s += c
	}
	return -s
}

// header returns a 36-byte ACPI system description table header with the
// length and checksum left 0 (ACPI 6.x §5.2.6).
func header(sig string, rev uint8, tableID string) []byte {
	h := make([]byte, 36)
	copy(h[0:4], sig)
	h[8] = rev
	copy(h[10:16], oemID)
	copy(h[16:24], fmt.Sprintf("%-8s", tableID))
	binary.LittleEndian.PutUint32(h[24:], oemRevision)
	copy(h[28:32], creatorID)
	binary.LittleEndian.PutUint32(h[32:], creatorRev)
	return h
}

// finish fills in the length and checksum of a table.
func finish(t []byte) []byte {
	binary.LittleEndian.PutUint32(t[4:], uint32(len(t)))
	t[9] = 0
	t[9] = checksum(t)
	return t
}

// buildRSDP is the ACPI 2.0+ RSDP (§5.2.5.3): the first 20 bytes have
// their own checksum, all 36 the extended one.
func buildRSDP(rsdt, xsdt uint64) []byte {
	p := make([]byte, 36)
	copy(p, "RSD PTR ")
	copy(p[9:15], oemID)
	p[15] = 2 // revision: ACPI 2.0 or later
	binary.LittleEndian.PutUint32(p[16:], uint32(rsdt))
	binary.LittleEndian.PutUint32(p[20:], 36)
	binary.LittleEndian.PutUint64(p[24:], xsdt)
	p[8] = checksum(p[:20])
	p[32] = checksum(p)
	return p
}

func buildFACS() []byte {
	f := make([]byte, 64)
	copy(f, "FACS")
	binary.LittleEndian.PutUint32(f[4:], 64)
	f[32] = 2 // version
	return f
}

// gas appends a Generic Address Structure (§5.2.3.2).
func gas(t []byte, space, width, offset, access uint8, addr uint64) []byte {
	t = append(t, space, width, offset, access)
	return binary.LittleEndian.AppendUint64(t, addr)
}

const (
	gasMemory = 0
	gasIO     = 1

	accByte  = 1
	accWord  = 2
	accDword = 3
)

// FADT flags (§5.2.9, Table 5.10) and IA-PC boot architecture flags
// (Table 5.11).
const (
	fadtWBINVD      = 1 << 0
	fadtProcC1      = 1 << 2
	fadtPwrButton   = 1 << 4 // no fixed power button
	fadtSlpButton   = 1 << 5 // no fixed sleep button
	fadtTmrValExt   = 1 << 8 // 32-bit PM timer
	fadtResetRegSup = 1 << 10

	bootLegacyDevices = 1 << 0 // ISA devices (the UART, the RTC) present
	bootVGANotPresent = 1 << 2
	bootNoASPM        = 1 << 4
)

// buildFADT is an ACPI 6.0 FADT (revision 6, 276 bytes; §5.2.9 Table 5.9).
// Revision 5 (268 bytes) would do for the fields used, but ACPICA's
// disassembler (iasl 20200925) reads a 268-byte table as truncated.
// SMI_CMD is 0: the platform is always in ACPI mode, so PM1_CNT.SCI_EN
// reads 1 and the OS never has to hand over from SMM.
func buildFADT(facs, dsdt uint64) []byte {
	le := binary.LittleEndian
	t := header("FACP", 6, "SVFACP")
	t = le.AppendUint32(t, uint32(facs))                                   // 36 FIRMWARE_CTRL
	t = le.AppendUint32(t, uint32(dsdt))                                   // 40 DSDT
	t = append(t, 0, 0)                                                    // 44 reserved, 45 Preferred_PM_Profile: unspecified
	t = le.AppendUint16(t, SCIIRQ)                                         // 46 SCI_INT
	t = le.AppendUint32(t, 0)                                              // 48 SMI_CMD
	t = append(t, 0, 0, 0, 0)                                              // 52 ACPI_ENABLE, ACPI_DISABLE, S4BIOS_REQ, PSTATE_CNT
	t = le.AppendUint32(t, PM1aEvtBlk)                                     // 56
	t = le.AppendUint32(t, 0)                                              // 60 PM1b_EVT_BLK
	t = le.AppendUint32(t, PM1aCntBlk)                                     // 64
	t = le.AppendUint32(t, 0)                                              // 68 PM1b_CNT_BLK
	t = le.AppendUint32(t, 0)                                              // 72 PM2_CNT_BLK
	t = le.AppendUint32(t, PMTmrBlk)                                       // 76
	t = le.AppendUint32(t, 0)                                              // 80 GPE0_BLK
	t = le.AppendUint32(t, 0)                                              // 84 GPE1_BLK
	t = append(t, 4, 2, 0, 4, 0, 0, 0, 0)                                  // 88 PM1_EVT_LEN .. CST_CNT
	t = le.AppendUint16(t, 101)                                            // 96 P_LVL2_LAT > 100: C2 not supported
	t = le.AppendUint16(t, 1001)                                           // 98 P_LVL3_LAT > 1000: C3 not supported
	t = le.AppendUint32(t, 0)                                              // 100 FLUSH_SIZE, FLUSH_STRIDE
	t = append(t, 0, 0, 0, 0, RTCCentury)                                  // 104 DUTY_OFFSET, DUTY_WIDTH, DAY_ALRM, MON_ALRM, CENTURY
	t = le.AppendUint16(t, bootLegacyDevices|bootVGANotPresent|bootNoASPM) // 109 IAPC_BOOT_ARCH
	t = append(t, 0)                                                       // 111 reserved
	t = le.AppendUint32(t, fadtWBINVD|fadtProcC1|fadtPwrButton|fadtSlpButton|fadtTmrValExt|fadtResetRegSup)
	t = gas(t, gasIO, 8, 0, accByte, ResetPort) // 116 RESET_REG
	t = append(t, ResetValue)                   // 128 RESET_VALUE
	t = le.AppendUint16(t, 0)                   // 129 ARM_BOOT_ARCH
	t = append(t, 0)                            // 131 FADT minor version
	t = le.AppendUint64(t, facs)                // 132 X_FIRMWARE_CTRL
	t = le.AppendUint64(t, dsdt)                // 140 X_DSDT
	t = gas(t, gasIO, 32, 0, accWord, PM1aEvtBlk)
	t = gas(t, 0, 0, 0, 0, 0) // X_PM1b_EVT_BLK
	t = gas(t, gasIO, 16, 0, accWord, PM1aCntBlk)
	t = gas(t, 0, 0, 0, 0, 0) // X_PM1b_CNT_BLK
	t = gas(t, 0, 0, 0, 0, 0) // X_PM2_CNT_BLK
	t = gas(t, gasIO, 32, 0, accDword, PMTmrBlk)
	t = gas(t, 0, 0, 0, 0, 0)       // X_GPE0_BLK
	t = gas(t, 0, 0, 0, 0, 0)       // X_GPE1_BLK
	t = gas(t, 0, 0, 0, 0, 0)       // SLEEP_CONTROL_REG
	t = gas(t, 0, 0, 0, 0, 0)       // SLEEP_STATUS_REG
	t = append(t, "SOFTVMM\x00"...) // 268 hypervisor vendor identity
	return finish(t)
}

// MADT interrupt flags (§5.2.12.5, Table 5.26): polarity bits 1:0, trigger
// mode bits 3:2.
const (
	mpsConforming = 0x0
	mpsHighLevel  = 0x1 | 0x3<<2
)

// buildMADT (§5.2.12, revision 3): one processor local APIC per vCPU, the
// I/O APIC, the ISA overrides IRQ 0 → GSI 2 and IRQ 9 (the SCI) level
// active-high, and LINT1 as NMI on every processor.
func buildMADT(p Platform) []byte {
	le := binary.LittleEndian
	t := header("APIC", 3, "SVMADT")
	t = le.AppendUint32(t, LAPICBase)
	t = le.AppendUint32(t, 1) // PCAT_COMPAT: the 8259 pair is present
	for i := 0; i < p.CPUs; i++ {
		t = append(t, 0, 8, byte(i), byte(i)) // processor local APIC: UID, APIC ID
		t = le.AppendUint32(t, 1)             // enabled
	}
	t = append(t, 1, 12, byte(p.CPUs), 0) // I/O APIC, ID after the CPUs (as bhyve)
	t = le.AppendUint32(t, IOAPICBase)
	t = le.AppendUint32(t, 0) // GSI base
	for _, iso := range []struct {
		irq   uint8
		gsi   uint32
		flags uint16
	}{{0, 2, mpsConforming}, {SCIIRQ, SCIIRQ, mpsHighLevel}} {
		t = append(t, 2, 10, 0, iso.irq) // interrupt source override, bus 0 (ISA)
		t = le.AppendUint32(t, iso.gsi)
		t = le.AppendUint16(t, iso.flags)
	}
	t = append(t, 4, 6, 0xff) // local APIC NMI, all processors
	t = le.AppendUint16(t, mpsConforming)
	t = append(t, 1) // LINT1
	return finish(t)
}

// buildHPET is the IA-PC HPET description table (Intel HPET spec 1.0a
// §3.2.4), 56 bytes.
func buildHPET() []byte {
	le := binary.LittleEndian
	t := header("HPET", 1, "SVHPET")
	t = le.AppendUint32(t, HPETBlockID)
	t = gas(t, gasMemory, 64, 0, 0, HPETBase)
	t = append(t, 0)          // HPET number
	t = le.AppendUint16(t, 0) // minimum clock tick in periodic mode: none claimed
	t = append(t, 0)          // page protection: none
	return finish(t)
}

// buildDSDT is the smallest DSDT the platform needs: \_S5 (the power-off
// sleep type). Its AML (ACPI §20) is written out by hand:
//
//	Name (_S5, Package (4) { 5, 5, 0, 0 })
//
// NameOp 0x08, NameString "_S5_", PackageOp 0x12, PkgLength, NumElements,
// then BytePrefix 0x0A 5 twice and ZeroOp twice.
func buildDSDT() []byte {
	t := header("DSDT", 2, "SVDSDT")
	t = append(t, 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, SlpTypS5, 0x0a, SlpTypS5, 0x00, 0x00)
	return finish(t)
}
