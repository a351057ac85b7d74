package abi

// /dev/vmmctl (FreeBSD 15.0 and the 2026 tree; reference/jail-and-
// security.md §3.1, §3.4): the control node that creates and destroys
// VMs by ioctl instead of the hw.vmm.create/destroy sysctls. Not part of
// the FreeBSD 12 ABI the rest of this package mirrors; softvmm offers it
// in its current era (emu/vmm Kernel.Era).
//
// struct vmmctl_vm_create { char name[VM_MAX_NAMELEN + 1]; uint32_t flags;
// int reserved[15]; } and struct vmmctl_vm_destroy { char
// name[VM_MAX_NAMELEN + 1]; int reserved[16]; }: 33 name bytes, 3 of
// padding, then 4-byte words; both are 100 bytes. The kernel
// NUL-terminates name[VM_MAX_NAMELEN] itself, so a name may use all 32
// other bytes, and every reserved word must be zero (EINVAL).
type VMMCtlVMCreate struct {
	Name     [VM_MAX_NAMELEN + 1]byte
	_        [3]byte
	Flags    uint32
	Reserved [15]int32
}

// VMMCtlVMDestroy is struct vmmctl_vm_destroy.
type VMMCtlVMDestroy struct {
	Name     [VM_MAX_NAMELEN + 1]byte
	_        [3]byte
	Reserved [16]int32
}

// NameString is the name up to its first NUL.
func (c *VMMCtlVMCreate) NameString() string { return cstring(c.Name[:]) }

// NameString is the name up to its first NUL.
func (c *VMMCtlVMDestroy) NameString() string { return cstring(c.Name[:]) }

const (
	sizeofVMMCtlVMCreate  = 100
	sizeofVMMCtlVMDestroy = 100

	// VMMCTL_CREATE_DESTROY_ON_CLOSE ties the VM's life to the vmmctl
	// descriptor that made it (a transient VM, the only kind an
	// unprivileged user may create).
	VMMCTL_CREATE_DESTROY_ON_CLOSE = 0x1
	VMMCTL_FLAGS_MASK              = VMMCTL_CREATE_DESTROY_ON_CLOSE

	// VMMCTL_VM_CREATE is _IOWR('V', 0, struct vmmctl_vm_create) and
	// VMMCTL_VM_DESTROY _IOWR('V', 1, struct vmmctl_vm_destroy).
	VMMCTL_VM_CREATE  = IOC_INOUT | sizeofVMMCtlVMCreate<<16 | 'V'<<8 | 0
	VMMCTL_VM_DESTROY = IOC_INOUT | sizeofVMMCtlVMDestroy<<16 | 'V'<<8 | 1

	// GID_VMM is the vmm group that owns /dev/vmmctl (0660) and every
	// VM node in the 2026 tree (sys/conf.h there; [ds] in reference §3.1).
	GID_VMM = 978
)
