package vmmapi

import (
	"softvmm/emu/abi"
	"softvmm/emu/vmm"
)

// BootROMSegid is bhyve's VM_BOOTROM: the devmem segment that holds the
// boot ROM.
const BootROMSegid = 1

// MapBootROM is bhyve's bootrom_alloc: a device-memory segment named
// "bootrom" of len(rom) bytes (VM_ALLOC_MEMSEG), filled through its
// /dev/vmm.io node's mmap, then mapped read/execute so it ends at 4 GiB
// (VM_MMAP_MEMSEG; reference/vmm-interface.md §6.6).
func (v *VMCtx) MapBootROM(rom []byte) error {
	ms := abi.VMMemseg{Segid: BootROMSegid, Len: uint64(len(rom))}
	copy(ms.Name[:], "bootrom")
	if err := v.dev.Ioctl(v.td, abi.VM_ALLOC_MEMSEG, &ms); err != nil {
		return err
	}
	node, err := v.k.Open(v.td, "/dev/vmm.io/"+v.name+".bootrom")
	if err != nil {
		return err
	}
	dm, ok := node.(interface {
		Mmap(td *vmm.Thread, off, size int64, prot int) ([]byte, error)
	})
	if !ok {
		return abi.ENODEV
	}
	b, err := dm.Mmap(v.td, 0, int64(len(rom)), abi.PROT_READ|abi.PROT_WRITE)
	if err != nil {
		return err
	}
	copy(b, rom)
	mm := abi.VMMemmap{Gpa: 1<<32 - uint64(len(rom)), Segid: BootROMSegid, Len: uint64(len(rom)),
		Prot: abi.PROT_READ | abi.PROT_EXEC}
	return v.dev.Ioctl(v.td, abi.VM_MMAP_MEMSEG, &mm)
}

// ReadGPA copies guest RAM at gpa into p (low memory only, like WriteGPA).
func (v *VMCtx) ReadGPA(gpa uint64, p []byte) error {
	if gpa > uint64(len(v.ram)) || uint64(len(p)) > uint64(len(v.ram))-gpa {
		return abi.EFAULT
	}
	copy(p, v.ram[gpa:])
	return nil
}
