package vmm

import (
	"softvmm/emu/abi"
)

// Ctl is an open /dev/vmmctl (reference/jail-and-security.md §3.1, §3.4;
// EraCurrent only): VMMCTL_VM_CREATE and VMMCTL_VM_DESTROY, and the VMs
// created with VMMCTL_CREATE_DESTROY_ON_CLOSE through it, which Close
// destroys (the cdevpriv destructor). Each open is its own Ctl.
type Ctl struct {
	k      *Kernel
	closed bool // guarded by k.mu
}

// Ioctl is vmmctl_ioctl with a typed argument: *abi.VMMCtlVMCreate for
// VMMCTL_VM_CREATE, *abi.VMMCtlVMDestroy for VMMCTL_VM_DESTROY; another
// command is ENOTTY, an argument of the wrong type EFAULT. The name is
// cut at its last byte as the kernel does, any nonzero reserved word is
// EINVAL, and then the work is hw.vmm.create's and hw.vmm.destroy's,
// with flags: bits outside VMMCTL_FLAGS_MASK are EINVAL (V14, V15, V18).
func (c *Ctl) Ioctl(td *Thread, cmd uint32, arg any) error {
	c.k.mu.Lock()
	closed := c.closed
	c.k.mu.Unlock()
	if closed {
		return abi.EBADF
	}
	switch cmd {
	case abi.VMMCTL_VM_CREATE:
		a, ok := arg.(*abi.VMMCtlVMCreate)
		if !ok || a == nil {
			return abi.EFAULT
		}
		a.Name[abi.VM_MAX_NAMELEN] = 0
		if !allZero(a.Reserved[:]) || a.Flags&^abi.VMMCTL_FLAGS_MASK != 0 {
			return abi.EINVAL
		}
		return c.k.create(cred(td), a.NameString(), a.Flags, c)
	case abi.VMMCTL_VM_DESTROY:
		a, ok := arg.(*abi.VMMCtlVMDestroy)
		if !ok || a == nil {
			return abi.EFAULT
		}
		a.Name[abi.VM_MAX_NAMELEN] = 0
		if !allZero(a.Reserved[:]) || td == nil || td.Cred == nil {
			return abi.EINVAL
		}
		return c.k.destroy(td.Cred, a.NameString())
	}
	return abi.ENOTTY
}

func allZero(ws []int32) bool {
	for _, w := range ws {
		if w != 0 {
			return false
		}
	}
	return true
}

// Close is the last close of the descriptor: every VM created through it
// with VMMCTL_CREATE_DESTROY_ON_CLOSE and still alive is destroyed.
func (c *Ctl) Close() error {
	k := c.k
	k.mu.Lock()
	if c.closed {
		k.mu.Unlock()
		return abi.EBADF
	}
	c.closed = true
	var mine []*VM
	for _, vm := range k.vms {
		if vm.ctl == c && !vm.dying {
			vm.dying = true
			mine = append(mine, vm)
		}
	}
	k.mu.Unlock()
	var first error
	for _, vm := range mine {
		if err := k.teardown(vm); err != nil && first == nil {
			first = err
		}
	}
	return first
}
