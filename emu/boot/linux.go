package boot

import (
	"encoding/binary"
	"errors"
	"fmt"

	"softvmm/emu/abi"
)

// The Linux x86 boot protocol (Documentation/arch/x86/boot.rst; the zero
// page layout is Documentation/arch/x86/zero-page.rst): offsets into the
// bzImage's setup header, which the zero page repeats at the same offsets.
const (
	lxSetupSects     = 0x1f1
	lxBootFlag       = 0x1fe // 0xAA55
	lxJump           = 0x200 // 2-byte jump; its second byte + 0x202 ends the header
	lxHeader         = 0x202 // "HdrS"
	lxVersion        = 0x206
	lxTypeOfLoader   = 0x210
	lxLoadflags      = 0x211
	lxCode32Start    = 0x214
	lxRamdiskImage   = 0x218
	lxRamdiskSize    = 0x21c
	lxCmdLinePtr     = 0x228
	lxInitrdAddrMax  = 0x22c
	lxKernelAlign    = 0x230
	lxRelocatable    = 0x234
	lxXloadflags     = 0x236
	lxCmdlineSize    = 0x238
	lxPrefAddress    = 0x258
	lxInitSize       = 0x260
	zpACPIRSDP       = 0x070
	zpExtRamdiskImg  = 0x0c0
	zpExtRamdiskSize = 0x0c4
	zpExtCmdLinePtr  = 0x0c8
	zpE820Entries    = 0x1e8
	zpE820Table      = 0x2d0
	zpE820Max        = 128

	lxLoadedHigh = 0x01 // loadflags: protected-mode code at 0x100000
	xlfKernel64  = 0x01 // xloadflags: 64-bit entry at load address + 0x200

	lxMinVersion = 0x020c // 2.12, the first with xloadflags
)

// Where LoadLinux puts its structures, all in conventional memory below
// the kernel: the GDT the protocol's 64-bit entry requires (__BOOT_CS =
// 0x10, __BOOT_DS = 0x18), page tables identity-mapping the low 4 GiB with
// 2 MiB pages, the zero page, a small stack and the command line.
const (
	LinuxGDTGPA       = 0x1000
	LinuxPML4GPA      = 0x2000
	LinuxPDPTGPA      = 0x3000
	LinuxPDGPA        = 0x4000 // four PDs, 0x4000-0x7fff
	LinuxZeroPageGPA  = 0x8000
	LinuxStackTop     = 0x10000
	LinuxCmdlineGPA   = 0x20000
	LinuxCmdlineLimit = 0x10000 // through 0x2ffff

	linuxBootCS = 0x10
	linuxBootDS = 0x18
)

// ErrLinux is wrapped by LoadLinux's errors about the image.
var ErrLinux = errors.New("bad Linux bzImage")

// LinuxOptions are what a boot loader adds.
type LinuxOptions struct {
	Cmdline string
	Initrd  []byte
	// RSDP, when not 0, is put in boot_params.acpi_rsdp_addr (protocol
	// 2.14+); the kernel finds it by scanning 0xE0000-0xFFFFF otherwise.
	RSDP uint64
}

// LinuxInfo reports where things went.
type LinuxInfo struct {
	Version    uint16
	LoadAddr   uint64 // protected-mode kernel
	Entry      uint64 // LoadAddr + 0x200, startup_64
	InitrdAddr uint64
	State      State
}

// IsBzImage reports whether image carries the boot protocol's signatures.
func IsBzImage(image []byte) bool {
	return len(image) >= 0x264 && binary.LittleEndian.Uint16(image[lxBootFlag:]) == 0xaa55 &&
		string(image[lxHeader:lxHeader+4]) == "HdrS"
}

// LoadLinux loads a bzImage through the 64-bit boot protocol (boot.rst,
// "64-bit Boot Protocol"): the protected-mode kernel at its preferred
// address (or 0x100000 when it is not relocatable), the zero page with the
// setup header copied from the image, the E820 map (MemoryMap(memSize)),
// the command line and the initrd (at the top of low memory under
// initrd_addr_max), and vCPU 0 at startup_64 with long mode on, the range
// 0-4 GiB identity-mapped, CS = __BOOT_CS, DS/ES/SS = __BOOT_DS, RSI = the
// zero page, interrupts off.
func LoadLinux(t Target, image []byte, memSize uint64, opt LinuxOptions) (*LinuxInfo, error) {
	le := binary.LittleEndian
	if !IsBzImage(image) {
		return nil, fmt.Errorf("boot: %w: no boot-protocol header (0xAA55 at 0x1FE and \"HdrS\" at 0x202)", ErrLinux)
	}
	ver := le.Uint16(image[lxVersion:])
	if ver < lxMinVersion {
		return nil, fmt.Errorf("boot: %w: boot protocol %d.%02d; the 64-bit entry needs 2.12 or later", ErrLinux, ver>>8, ver&0xff)
	}
	if image[lxXloadflags]&xlfKernel64 == 0 {
		return nil, fmt.Errorf("boot: %w: xloadflags has no XLF_KERNEL_64: no 64-bit entry point", ErrLinux)
	}
	if image[lxLoadflags]&lxLoadedHigh == 0 {
		return nil, fmt.Errorf("boot: %w: a zImage (loaded low), not a bzImage", ErrLinux)
	}
	setupSects := int(image[lxSetupSects])
	if setupSects == 0 {
		setupSects = 4
	}
	kOff := (setupSects + 1) * 512
	if kOff >= len(image) {
		return nil, fmt.Errorf("boot: %w: %d setup sectors leave no kernel in a %d-byte file", ErrLinux, setupSects, len(image))
	}
	kernel := image[kOff:]
	hdrEnd := 0x202 + int(image[lxJump+1])
	if hdrEnd > len(image) || hdrEnd > 0x1000 || hdrEnd < lxInitSize+4 {
		return nil, fmt.Errorf("boot: %w: setup header ends at %#x", ErrLinux, hdrEnd)
	}
	mm := MemoryMap(memSize)

	load := uint64(le.Uint32(image[lxCode32Start:]))
	if image[lxRelocatable] != 0 {
		if pref := le.Uint64(image[lxPrefAddress:]); pref != 0 {
			load = pref
		}
	}
	initSize := uint64(le.Uint32(image[lxInitSize:]))
	span := max(initSize, uint64(len(kernel)))
	if !usable(mm, load, span) {
		return nil, fmt.Errorf("boot: %w: the kernel needs [%#x, %#x) (init_size %#x) in RAM; the guest has %#x bytes",
			ErrLinux, load, load+span, initSize, memSize)
	}
	if err := t.WriteGPA(load, kernel); err != nil {
		return nil, fmt.Errorf("boot: writing the kernel at %#x: %w", load, err)
	}

	zp := make([]byte, 4096)
	copy(zp[lxSetupSects:hdrEnd], image[lxSetupSects:hdrEnd])
	zp[lxTypeOfLoader] = 0xff              // undefined loader
	zp[lxLoadflags] &^= 0x20 | 0x40 | 0x80 // no QUIET, KEEP_SEGMENTS or CAN_USE_HEAP claims

	cmd := append([]byte(opt.Cmdline), 0)
	if lim := uint64(le.Uint32(image[lxCmdlineSize:])); lim != 0 && uint64(len(opt.Cmdline)) > lim {
		return nil, fmt.Errorf("boot: %w: the command line is %d bytes; this kernel takes at most %d", ErrLinux, len(opt.Cmdline), lim)
	}
	if len(cmd) > LinuxCmdlineLimit {
		return nil, fmt.Errorf("boot: %w: the command line is %d bytes, more than %d", ErrLinux, len(opt.Cmdline), LinuxCmdlineLimit-1)
	}
	if err := t.WriteGPA(LinuxCmdlineGPA, cmd); err != nil {
		return nil, fmt.Errorf("boot: writing the command line: %w", err)
	}
	le.PutUint32(zp[lxCmdLinePtr:], LinuxCmdlineGPA)
	le.PutUint32(zp[zpExtCmdLinePtr:], 0)

	var initrdAddr uint64
	if len(opt.Initrd) > 0 {
		maxAddr := uint64(le.Uint32(image[lxInitrdAddrMax:]))
		if maxAddr == 0 {
			maxAddr = 0x37ffffff // the protocol's default before 2.03
		}
		top := min(maxAddr+1, min(memSize, lowmemLimit))
		n := uint64(len(opt.Initrd))
		if n > top {
			return nil, fmt.Errorf("boot: %w: a %d-byte initrd does not fit below %#x", ErrLinux, n, top)
		}
		initrdAddr = (top - n) &^ 0xfff
		if initrdAddr < load+span {
			return nil, fmt.Errorf("boot: %w: the initrd (%d bytes) does not fit between the kernel's end %#x and %#x", ErrLinux, n, load+span, top)
		}
		if err := t.WriteGPA(initrdAddr, opt.Initrd); err != nil {
			return nil, fmt.Errorf("boot: writing the initrd at %#x: %w", initrdAddr, err)
		}
		le.PutUint32(zp[lxRamdiskImage:], uint32(initrdAddr))
		le.PutUint32(zp[lxRamdiskSize:], uint32(n))
		le.PutUint32(zp[zpExtRamdiskImg:], uint32(initrdAddr>>32))
		le.PutUint32(zp[zpExtRamdiskSize:], uint32(n>>32))
	}
	if opt.RSDP != 0 && ver >= 0x020e {
		le.PutUint64(zp[zpACPIRSDP:], opt.RSDP)
	}
	if len(mm) > zpE820Max {
		return nil, fmt.Errorf("boot: %d memory-map entries, the zero page holds %d", len(mm), zpE820Max)
	}
	zp[zpE820Entries] = byte(len(mm))
	for i, e := range mm {
		o := zpE820Table + 20*i
		le.PutUint64(zp[o:], e.Addr)
		le.PutUint64(zp[o+8:], e.Size)
		le.PutUint32(zp[o+16:], e.Type)
	}
	if err := t.WriteGPA(LinuxZeroPageGPA, zp); err != nil {
		return nil, fmt.Errorf("boot: writing the zero page: %w", err)
	}
	if err := writeIdentityMap4G(t); err != nil {
		return nil, err
	}
	gdt := gdtBytes(0, 0, gdtFlatCode64, gdtFlatData32)
	if err := t.WriteGPA(LinuxGDTGPA, gdt); err != nil {
		return nil, fmt.Errorf("boot: writing the GDT: %w", err)
	}

	entry := load + 0x200
	st := State{Descs: flatDescs(acc64Code, LinuxGDTGPA, uint32(len(gdt)-1))}
	st.Regs = append([]RegVal{
		{abi.VM_REG_GUEST_CR0, cr0PG | cr0NE | cr0ET | cr0PE},
		{abi.VM_REG_GUEST_CR4, cr4PAE},
		{abi.VM_REG_GUEST_EFER, eferLME | eferLMA},
		{abi.VM_REG_GUEST_CR3, LinuxPML4GPA},
		{abi.VM_REG_GUEST_RFLAGS, rflagsReserved},
	}, selectors(linuxBootCS, linuxBootDS)...)
	st.Regs = append(st.Regs,
		RegVal{abi.VM_REG_GUEST_RSI, LinuxZeroPageGPA},
		RegVal{abi.VM_REG_GUEST_RDI, 0},
		RegVal{abi.VM_REG_GUEST_RBP, 0},
		RegVal{abi.VM_REG_GUEST_RBX, 0},
		RegVal{abi.VM_REG_GUEST_RSP, LinuxStackTop},
		RegVal{abi.VM_REG_GUEST_RIP, entry},
	)
	if err := st.Apply(t, 0); err != nil {
		return nil, err
	}
	return &LinuxInfo{Version: ver, LoadAddr: load, Entry: entry, InitrdAddr: initrdAddr, State: st}, nil
}

// writeIdentityMap4G writes a PML4 whose first entry points to a PDPT
// whose first four entries point to PDs mapping 0-4 GiB with 2 MiB pages.
func writeIdentityMap4G(t Target) error {
	le := binary.LittleEndian
	pml4 := make([]byte, 4096)
	le.PutUint64(pml4, LinuxPDPTGPA|pteP|pteRW)
	pdpt := make([]byte, 4096)
	pds := make([]byte, 4*4096)
	for i := uint64(0); i < 4; i++ {
		le.PutUint64(pdpt[8*i:], (LinuxPDGPA+4096*i)|pteP|pteRW)
	}
	for i := uint64(0); i < 4*512; i++ {
		le.PutUint64(pds[8*i:], i<<21|pteP|pteRW|ptePS)
	}
	for _, w := range []struct {
		gpa uint64
		b   []byte
	}{{LinuxPML4GPA, pml4}, {LinuxPDPTGPA, pdpt}, {LinuxPDGPA, pds}} {
		if err := t.WriteGPA(w.gpa, w.b); err != nil {
			return fmt.Errorf("boot: writing page tables at %#x: %w", w.gpa, err)
		}
	}
	return nil
}
