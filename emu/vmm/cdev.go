package vmm

import (
	"encoding/binary"
	"reflect"

	"softvmm/emu/abi"
	"softvmm/jail"
)

// Thread is the calling thread as the kernel sees it: its credential
// (td_ucred) and its process's memory, against which the byte-level entry
// points resolve user addresses (copyin/copyout).
type Thread struct {
	Cred *jail.Ucred
	Mem  UserMem // may be nil for callers that only use the typed API
}

// UserMem is a process's address space for copyin/copyout. Addresses
// outside it are EFAULT, as a bad user pointer is in the kernel.
type UserMem interface {
	CopyIn(uaddr uint64, dst []byte) error
	CopyOut(uaddr uint64, src []byte) error
}

// SliceMem is a UserMem of one contiguous region B mapped at Base.
type SliceMem struct {
	Base uint64
	B    []byte
}

func (m *SliceMem) span(uaddr uint64, n int) ([]byte, error) {
	if n == 0 {
		return nil, nil // copyin/copyout of nothing touches nothing
	}
	off := uaddr - m.Base
	if uaddr < m.Base || off > uint64(len(m.B)) || uint64(n) > uint64(len(m.B))-off {
		return nil, abi.EFAULT
	}
	return m.B[off : off+uint64(n)], nil
}

// CopyIn copies len(dst) bytes from user address uaddr.
func (m *SliceMem) CopyIn(uaddr uint64, dst []byte) error {
	s, err := m.span(uaddr, len(dst))
	if err == nil {
		copy(dst, s)
	}
	return err
}

// CopyOut copies src to user address uaddr.
func (m *SliceMem) CopyOut(uaddr uint64, src []byte) error {
	s, err := m.span(uaddr, len(src))
	if err == nil {
		copy(s, src)
	}
	return err
}

// Cdev is an open /dev/vmm/NAME. After the VM is destroyed the handle
// stays valid but every operation fails as on a cdev whose si_drv1 was
// cleared (reference §1.4).
type Cdev struct {
	k    *Kernel
	vm   *VM // nil once destroyed; guarded by k.mu
	path string
}

func (d *Cdev) softc() *VM {
	d.k.mu.Lock()
	defer d.k.mu.Unlock()
	return d.vm
}

// VM returns the machine behind the node, or nil once it is destroyed.
func (d *Cdev) VM() *VM { return d.softc() }

// Ioctl is ioctl(2) with a typed argument: arg points at the abi struct of
// cmd (for example *abi.VMRegister for VM_GET_REGISTER). As the generic
// ioctl layer does, the argument is copied in for IOC_IN commands and
// copied back for IOC_OUT commands only when the driver returns 0, so a
// failed call leaves *arg as it was (reference §2). An arg whose size is
// not the command's is EFAULT, the typed form of a bad user pointer.
func (d *Cdev) Ioctl(td *Thread, cmd uint32, arg any) error {
	size := abi.IOCPARM_LEN(cmd)
	if run, ok := arg.(*abi.VMRun); ok && cmd == abi.VM_RUN {
		// VM_RUN is the one per-exit ioctl: skip the reflection copy.
		return d.ioctlRun(td, run)
	}
	buf := make([]byte, size)
	if size > 0 {
		if arg == nil || reflect.TypeOf(arg).Kind() != reflect.Pointer || binary.Size(arg) != size {
			return abi.EFAULT
		}
		if cmd&abi.IOC_IN != 0 {
			if err := abi.Encode(buf, arg); err != nil {
				return abi.EFAULT
			}
		}
	}
	if err := d.ioctl(td, cmd, buf); err != nil {
		return err
	}
	if size > 0 && cmd&abi.IOC_OUT != 0 {
		if err := abi.Decode(buf, arg); err != nil {
			return abi.EFAULT
		}
	}
	return nil
}

// IoctlRaw is ioctl(2) at the byte level, for fuzzers and ABI tests: the
// argument is IOCPARM_LEN(cmd) little-endian bytes at user address uaddr in
// td.Mem, and embedded pointers are resolved against td.Mem too.
func (d *Cdev) IoctlRaw(td *Thread, cmd uint32, uaddr uint64) error {
	size := abi.IOCPARM_LEN(cmd)
	buf := make([]byte, size)
	if size > 0 && cmd&abi.IOC_IN != 0 {
		if td == nil || td.Mem == nil {
			return abi.EFAULT
		}
		if err := td.Mem.CopyIn(uaddr, buf); err != nil {
			return abi.EFAULT
		}
	}
	if err := d.ioctl(td, cmd, buf); err != nil {
		return err
	}
	if size > 0 && cmd&abi.IOC_OUT != 0 {
		if td == nil || td.Mem == nil {
			return abi.EFAULT
		}
		if err := td.Mem.CopyOut(uaddr, buf); err != nil {
			return abi.EFAULT
		}
	}
	return nil
}

// Read is read(2) on the node: the file offset is a guest-physical
// address (reference §6.3). The memory map is held stable by freezing
// vCPU VM_MAXCPU-1, as FreeBSD 12 does.
func (d *Cdev) Read(td *Thread, p []byte, off int64) (int, error) {
	return d.rw(td, p, off, false)
}

// Write is write(2) on the node (reference §6.3).
func (d *Cdev) Write(td *Thread, p []byte, off int64) (int, error) {
	return d.rw(td, p, off, true)
}

func (d *Cdev) rw(td *Thread, p []byte, off int64, write bool) (int, error) {
	if err := d.k.privCheck(cred(td)); err != nil {
		return 0, err
	}
	vm := d.softc()
	if vm == nil {
		return 0, abi.ENXIO
	}
	vm.freeze(abi.VM_MAXCPU - 1)
	defer vm.unfreeze(abi.VM_MAXCPU - 1)
	if vm.isDying() {
		// The destroy took the VM while we waited for the vCPU; its
		// memory is about to be freed (row V28).
		return 0, abi.ENXIO
	}
	if write {
		return vm.mem.WriteAt(p, off)
	}
	return vm.mem.ReadAt(p, off)
}

// Mmap is mmap(2) on the node (vmmdev_mmap_single, reference §6.4): the
// returned slice aliases guest RAM, so a store through it is seen by the
// guest at once.
func (d *Cdev) Mmap(td *Thread, off, size int64, prot int) ([]byte, error) {
	if err := d.k.privCheck(cred(td)); err != nil {
		return nil, err
	}
	vm := d.softc()
	if vm == nil {
		return nil, abi.EINVAL
	}
	vm.freeze(abi.VM_MAXCPU - 1)
	defer vm.unfreeze(abi.VM_MAXCPU - 1)
	if vm.isDying() {
		return nil, abi.ENXIO // row V28, as rw
	}
	return vm.mem.Mmap(off, size, prot)
}

// DevmemCdev is an open /dev/vmm.io/VM.SEG: a named device-memory segment
// that can only be mmapped (reference §6.5).
type DevmemCdev struct {
	k     *Kernel
	vm    *VM // nil once destroyed; guarded by k.mu
	segid int
	path  string
}

// Mmap maps [off, off+size) of the segment itself (not a guest-physical
// range). FreeBSD 12 applies no jail check here (reference §1.3); softvmm
// does, so a jail without allow.vmm is refused at this door too: the hole
// FreeBSD 15 closed by moving the check to open.
func (d *DevmemCdev) Mmap(td *Thread, off, size int64, prot int) ([]byte, error) {
	if err := d.k.privCheck(cred(td)); err != nil {
		return nil, err
	}
	d.k.mu.Lock()
	vm := d.vm
	d.k.mu.Unlock()
	if vm == nil || vm.isDying() {
		return nil, abi.ENXIO
	}
	return vm.mem.DevmemMmap(d.segid, off, size, prot)
}

func cred(td *Thread) *jail.Ucred {
	if td == nil {
		return nil
	}
	return td.Cred
}
