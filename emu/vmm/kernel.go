// Package vmm is softvmm's "kernel module": the in-process equivalent of
// FreeBSD's vmm.ko. A Kernel holds the sysctl nodes hw.vmm.create and
// hw.vmm.destroy, the device nodes /dev/vmm/NAME and /dev/vmm.io/VM.SEG, and
// the VMs behind them; every entry point takes the calling thread's
// credential and applies vmm_priv_check, as vmm_dev.c does.
//
// VMs stay in their jail (reference/jail-and-security.md §3.3, FreeBSD 14
// and later): each VM keeps its creator's credential, and a VM is visible
// (hw.vmm.create/destroy by name, /dev/vmm/NAME, /dev/vmm.io/NAME.SEG)
// only from the creator's jail and its ancestors; the host sees all.
// Kernel.Era = Era2018 gives back FreeBSD 12's behaviour, in which any
// jail with allow.vmm reaches every VM on the host, for people studying
// that hole.
//
// Facts: reference/vmm-interface.md §1 (lifecycle), §2 (ioctls), §5 (vCPU
// states), §6 (memory), §7 (VM_RUN); reference/jail-and-security.md §1.3,
// §1.9 (sysctl write policy), §1.11 (devfs), §3 (vmm and jails).
package vmm

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"

	"softvmm/emu/abi"
	"softvmm/jail"
)

// Era picks which FreeBSD's rules tie a VM to the jail that made it.
type Era int

const (
	// EraCurrent, the default, is FreeBSD 14's per-VM credential (commit
	// a85404906bc8, §3.1, §3.3) with the 15.0 fixes on top:
	//   - a VM another jail made (one the caller cannot cr_cansee) is
	//     absent: hw.vmm.destroy of it is EINVAL (row V7), opening its
	//     /dev/vmm or /dev/vmm.io node ENOENT (V8), and creating a VM of
	//     its name EEXIST from the device-name collision (V9);
	//   - /dev/vmm.io nodes carry the VM's credential too (14 left them
	//     unfiltered; 15 fixed it);
	//   - open checks allow.vmm (15's d_open, row V4), and every ioctl,
	//     read, write and mmap still checks it too (12/14), so a revoked
	//     jail loses even descriptors it already holds (V10 v12/v14).
	//   - /dev/vmmctl (15.0, §3.4): VMMCTL_VM_CREATE / VMMCTL_VM_DESTROY
	//     beside the sysctls, and the 2026 access control on top (vmm.4
	//     ACCESS CONTROL): the node is root:vmm 0660, each VM node is
	//     owned by its creator's uid, group vmm, 0600; a non-transient VM
	//     needs PRIV_VMM_CREATE, destroying another user's or another
	//     jail's VM PRIV_VMM_DESTROY; a user has at most hw.vmm.maxvmms
	//     VMs (V14–V20).
	// As in FreeBSD, a descriptor is a capability: an open node passed to
	// a thread in another jail (jail_attach after open, §1.8) keeps
	// working there if that jail has allow.vmm.
	EraCurrent Era = iota

	// Era2018 is FreeBSD 12.0 as r337023 left it: VMs are found by name
	// alone and their nodes (root:wheel 0600) carry no credential, so
	// every jail with allow.vmm (and a devfs ruleset that unhides vmm/*)
	// can see, open, run and destroy every VM, the host's included; open
	// checks nothing beyond the node's mode; there is no /dev/vmmctl.
	Era2018
)

func (e Era) String() string {
	if e == Era2018 {
		return "2018"
	}
	return "current"
}

// Kernel is one emulated FreeBSD kernel with vmm.ko loadable into it.
type Kernel struct {
	Jails *jail.Host

	// Era is the compatibility switch: set it before the first VM is
	// made. The zero value keeps VMs in their jails.
	Era Era

	mu       sync.Mutex
	loaded   bool
	maxvmms  int            // hw.vmm.maxvmms
	vmmcnt   map[int]int    // VMs per creator uid (ui_vmmcnt); looked up, never iterated
	allowBit uint32         // pr_allow_flag: the allow.vmm bit, 0 if none could be had
	pptBit   uint32         // the allow.vmm_ppt bit, 0 if none could be had
	vms      []*VM          // the global VM list (creation order)
	devfs    map[string]any // device path → *Cdev or *DevmemCdev; looked up, never iterated
}

// NewKernel returns a kernel on the jail host h with vmm not yet loaded.
func NewKernel(h *jail.Host) *Kernel {
	return &Kernel{Jails: h, devfs: make(map[string]any), maxvmms: defaultMaxVMMs, vmmcnt: make(map[int]int)}
}

// defaultMaxVMMs is hw.vmm.maxvmms's default, 4 × mp_ncpus, for an
// emulated host of VM_MAXCPU CPUs: fixed, so every machine gives the same
// answers.
const defaultMaxVMMs = 4 * abi.VM_MAXCPU

// Load is kldload vmm: vmmdev_init registers the dynamic jail permission
// allow.vmm (reference §1.3) and the hw.vmm sysctls appear. It registers
// allow.vmm_ppt too, the passthrough permission of the 2026 tree
// (reference/jail-and-security.md §3.1, D55066, row V30), after
// allow.vmm so that allow.vmm gets the bit it always had.
func (k *Kernel) Load() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.loaded {
		return abi.EEXIST // kldload of a loaded module
	}
	k.allowBit = k.Jails.AddAllow("vmm")
	k.pptBit = k.Jails.AddAllow("vmm_ppt")
	k.loaded = true
	return nil
}

// Unload is kldunload vmm: vmmdev_cleanup refuses with EBUSY while any VM
// exists (reference §1.2). The allow.vmm name stays registered, as
// prison_add_allow's table entries do, so a reload gets the same bit.
func (k *Kernel) Unload() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.loaded {
		return abi.ENOENT
	}
	if len(k.vms) > 0 {
		return abi.EBUSY
	}
	k.loaded = false
	return nil
}

// privCheck is vmm_priv_check: a jailed credential whose prison lacks
// allow.vmm gets EPERM. When the bit could not be registered (allowBit 0)
// every jailed caller fails, which is the fail-closed behaviour of
// reference/jail-and-security.md §1.6 step 6.
func (k *Kernel) privCheck(cred *jail.Ucred) error {
	if cred == nil {
		return abi.EPERM
	}
	if cred.Jailed() && !cred.Prison.Allowed(k.allowBit) {
		return abi.EPERM
	}
	return nil
}

// pptPrivCheck gates the passthrough ioctls (VM_BIND_PPTDEV and the
// rest). FreeBSD 12 let any jail with allow.vmm reach them; commit
// e11768e94787 put them behind PRIV_DRIVER, which a jail never holds, and
// D55066 gives jails allow.vmm_ppt to get them back (reference/jail-and-
// security.md §3.1, row V30). softvmm takes both: jailed without
// allow.vmm_ppt is EPERM.
func (k *Kernel) pptPrivCheck(cred *jail.Ucred) error {
	if cred == nil {
		return abi.EPERM
	}
	k.mu.Lock()
	bit := k.pptBit
	k.mu.Unlock()
	if cred.Jailed() && !cred.Prison.Allowed(bit) {
		return jail.PrivCheck(cred, jail.PRIV_DRIVER)
	}
	return nil
}

// Sysctl reads (newval nil) or writes the node name, as sysctl(3) does
// from td. Only hw.vmm.create and hw.vmm.destroy exist here; other names
// are ENOENT. Writes follow sysctl_root's policy (reference/jail-and-
// security.md §1.9): non-root is EPERM; jailed root passes because both
// nodes are CTLFLAG_PRISON. The handler then applies vmm_priv_check before
// anything else, so even a read from a jail without allow.vmm is EPERM.
// A read returns the placeholder "beavis" (reference §1.2).
//
// In EraCurrent hw.vmm.maxvmms exists too: a decimal string, CTLFLAG_RW
// without CTLFLAG_PRISON, so only host root changes it.
func (k *Kernel) Sysctl(td *Thread, name string, newval *string) (string, error) {
	k.mu.Lock()
	loaded := k.loaded
	k.mu.Unlock()
	if loaded && name == "hw.vmm.maxvmms" && k.Era != Era2018 {
		return k.sysctlMaxVMMs(td, newval)
	}
	if !loaded || (name != "hw.vmm.create" && name != "hw.vmm.destroy") {
		return "", abi.ENOENT
	}
	if td == nil || td.Cred == nil {
		return "", abi.EPERM
	}
	if newval != nil {
		// sysctl_root: both nodes are CTLTYPE_STRING|CTLFLAG_RW|CTLFLAG_PRISON.
		if err := jail.SysctlWriteCheck(td.Cred, jail.CTLFLAG_RW|jail.CTLFLAG_PRISON); err != nil {
			return "", err
		}
	}
	if err := k.privCheck(td.Cred); err != nil {
		return "", err
	}
	if newval == nil {
		return "beavis", nil
	}
	// sysctl_handle_string into a VM_MAX_NAMELEN buffer: the string and
	// its NUL must fit.
	if len(*newval) >= abi.VM_MAX_NAMELEN || strings.IndexByte(*newval, 0) >= 0 {
		return "", abi.EINVAL
	}
	if name == "hw.vmm.create" {
		return "beavis", k.create(td.Cred, *newval, 0, nil)
	}
	return "beavis", k.destroy(td.Cred, *newval)
}

func (k *Kernel) sysctlMaxVMMs(td *Thread, newval *string) (string, error) {
	if newval != nil {
		if err := jail.SysctlWriteCheck(cred(td), jail.CTLFLAG_RW); err != nil {
			return "", err
		}
		n, err := strconv.ParseUint(*newval, 10, 31)
		if err != nil {
			return "", abi.EINVAL
		}
		k.mu.Lock()
		k.maxvmms = int(n)
		k.mu.Unlock()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return strconv.Itoa(k.maxvmms), nil
}

// lookupLocked is vmmdev_lookup: the VM named name, if cred may see it.
// From FreeBSD 14 a VM whose creator cred cannot cr_cansee is absent; its
// prison test is prison_check (the uid policies of cr_cansee pass for
// root, and security.bsd.see_other_uids is on by default).
func (k *Kernel) lookupLocked(cred *jail.Ucred, name string) *VM {
	for _, vm := range k.vms {
		if vm.name == name {
			if !k.sees(cred, vm) {
				return nil
			}
			return vm
		}
	}
	return nil
}

// sees reports whether cred may see vm: always in Era2018, else when
// vm's creator lives in cred's prison or below it.
func (k *Kernel) sees(cred *jail.Ucred, vm *VM) bool {
	return k.Era == Era2018 || cred != nil && jail.PrisonCheck(cred, vm.creator) == nil
}

// nodeCred is the credential a VM's device nodes are made with (si_cred):
// the creator's from FreeBSD 14 on, none in 2018.
func (k *Kernel) nodeCred(vm *VM) *jail.Ucred {
	if k.Era == Era2018 {
		return nil
	}
	return vm.creator
}

// create is vmmdev_create, behind both hw.vmm.create (flags 0) and
// VMMCTL_VM_CREATE (reference §1.2, jail-and-security §3.3, §3.4): EEXIST
// for a name the caller sees; in EraCurrent EPERM for a non-transient VM
// without PRIV_VMM_CREATE, EPERM for a jail without allow.vmm, ENOMEM past
// hw.vmm.maxvmms VMs of the caller's uid; EINVAL for names devfs would
// refuse, EEXIST again when the node name is taken by a VM the caller
// cannot see (make_dev_p's collision: the cross-jail existence leak of
// row V9); then the VM, holding its creator's credential, and its node
// /dev/vmm/NAME. A VM created with VMMCTL_CREATE_DESTROY_ON_CLOSE belongs
// to ctl, the vmmctl descriptor, and dies with it.
func (k *Kernel) create(cr *jail.Ucred, name string, flags uint32, ctl *Ctl) error {
	current := k.Era != Era2018
	k.mu.Lock()
	exists := k.lookupLocked(cr, name) != nil
	k.mu.Unlock()
	if exists {
		return abi.EEXIST
	}
	// The privilege checks take the jail lock, so not under k.mu.
	if current && flags&abi.VMMCTL_CREATE_DESTROY_ON_CLOSE == 0 {
		if err := jail.PrivCheck(cr, jail.PRIV_VMM_CREATE); err != nil {
			return err // "An unprivileged user must run VMs in monitor mode"
		}
	}
	if err := k.privCheck(cr); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lookupLocked(cr, name) != nil {
		return abi.EEXIST // made while the lock was dropped
	}
	if current && k.vmmcnt[cr.UID] >= k.maxvmms {
		return abi.ENOMEM
	}
	path := "vmm/" + name
	if err := checkDevname(path); err != nil {
		return err
	}
	if _, busy := k.devfs[path]; busy {
		return abi.EEXIST
	}
	vm := newVM(k, name, cr)
	if current {
		k.vmmcnt[cr.UID]++
		vm.counted = true
	}
	if flags&abi.VMMCTL_CREATE_DESTROY_ON_CLOSE != 0 {
		vm.ctl = ctl
	}
	k.vms = append(k.vms, vm)
	vm.cdev = &Cdev{k: k, vm: vm, path: path}
	k.devfs[path] = vm.cdev
	return nil
}

// canDestroy is the 2026 destroy rule: the creator (same uid and same
// prison) or a holder of PRIV_VMM_DESTROY (root, here and in jails).
func (k *Kernel) canDestroy(cr *jail.Ucred, vm *VM) error {
	if k.Era == Era2018 || cr.UID == vm.creator.UID && cr.Prison == vm.creator.Prison {
		return nil
	}
	return jail.PrivCheck(cr, jail.PRIV_VMM_DESTROY)
}

// destroy is sysctl_vmm_destroy: a VM the caller cannot see is as absent
// as a missing one, EINVAL (row V7). FreeBSD 12 tears the VM down later in a
// taskqueue, so the name can stay busy for a moment; softvmm takes the
// FreeBSD 14 fix (commit 7a0c23da4eaa, reference §15.2) and destroys
// synchronously: when the sysctl returns the name is free again. Running
// vCPUs are forced out (REQIDLE) and frozen first; later commands on an
// open Cdev of the dead VM get ENXIO (ioctl, read, write) or EINVAL (mmap).
func (k *Kernel) destroy(cred *jail.Ucred, name string) error {
	k.mu.Lock()
	vm := k.lookupLocked(cred, name)
	if vm == nil || vm.cdev == nil || vm.dying {
		k.mu.Unlock()
		return abi.EINVAL
	}
	k.mu.Unlock()
	if err := k.canDestroy(cred, vm); err != nil {
		return err
	}
	k.mu.Lock()
	if vm.dying {
		k.mu.Unlock()
		return abi.EINVAL // another destroy got there first
	}
	vm.dying = true
	k.mu.Unlock()
	return k.teardown(vm)
}

// teardown is vmmdev_destroy for a VM the caller marked dying: force the
// vCPUs out, remove the nodes, free the memory and the credential.
func (k *Kernel) teardown(vm *VM) error {
	vm.freezeAll()
	k.mu.Lock()
	delete(k.devfs, vm.cdev.path)
	for _, d := range vm.devmem {
		delete(k.devfs, d.path)
		d.vm = nil
	}
	vm.cdev.vm = nil
	vm.cdev = nil
	for i, v := range k.vms {
		if v == vm {
			k.vms = append(k.vms[:i], k.vms[i+1:]...)
			break
		}
	}
	if vm.counted {
		k.vmmcnt[vm.creator.UID]--
	}
	vm.ctl = nil
	k.mu.Unlock()
	vm.unfreezeAll()
	err := vm.mem.Free()
	vm.creator.Prison.Free() // crfree: a dying creator jail may go now
	return err
}

// File flags of open(2) as the kernel sees them (fflag).
const (
	FREAD  = 0x1
	FWRITE = 0x2
)

// Open is OpenFile for reading and writing, as bhyve opens its VM.
func (k *Kernel) Open(td *Thread, path string) (any, error) {
	return k.OpenFile(td, path, FREAD|FWRITE)
}

// OpenFile looks up a device node as devfs would and opens it with flags
// (FREAD, FWRITE): a *Cdev for /dev/vmm/NAME, a *DevmemCdev for
// /dev/vmm.io/VM.SEG, a new *Ctl for /dev/vmmctl. A node is absent
// (ENOENT) when the devfs ruleset of the caller's jail hides it, or, in
// EraCurrent, when the caller cannot see the VM's creator (§1.11's two
// filters). Then the node's owner, group and mode decide (EACCES; root
// passes by PRIV_VFS_READ/WRITE), and then the driver's d_open: in
// EraCurrent allow.vmm is checked here as FreeBSD 15's d_open does
// (EPERM, rows V4, V10), and /dev/vmmctl must be opened for writing
// (EPERM, V15). FreeBSD 12's vmm cdev has no d_open, so in Era2018 opening
// checks nothing more.
func (k *Kernel) OpenFile(td *Thread, path string, flags int) (any, error) {
	if flags&(FREAD|FWRITE) == 0 {
		return nil, abi.EINVAL
	}
	p, ok := strings.CutPrefix(path, "/dev/")
	if !ok {
		return nil, abi.ENOENT
	}
	cr := cred(td)
	current := k.Era != Era2018
	k.mu.Lock()
	loaded := k.loaded
	n, ok := k.devfs[p]
	var vm *VM
	switch d := n.(type) {
	case *Cdev:
		vm = d.vm
	case *DevmemCdev:
		vm = d.vm
	}
	k.mu.Unlock()
	if p == "vmmctl" && current && loaded {
		if !jail.DevfsVisible(cr, p, nil) {
			return nil, abi.ENOENT
		}
		if err := vaccess(cr, 0, abi.GID_VMM, 0o660, flags); err != nil {
			return nil, err
		}
		if err := k.privCheck(cr); err != nil {
			return nil, err
		}
		if flags&FWRITE == 0 {
			return nil, abi.EPERM
		}
		return &Ctl{k: k}, nil
	}
	if !ok || vm == nil || !jail.DevfsVisible(cr, p, k.nodeCred(vm)) {
		return nil, abi.ENOENT
	}
	uid, gid := 0, 0 // UID_ROOT, GID_WHEEL
	if current {
		uid, gid = vm.creator.UID, abi.GID_VMM
	}
	if err := vaccess(cr, uid, gid, 0o600, flags); err != nil {
		return nil, err
	}
	if current {
		if err := k.privCheck(cr); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// vaccess is the permission check of devfs_access for a node of owner
// uid, group gid and mode: the owner's, group's or others' bits as the
// caller falls, else PRIV_VFS_READ/PRIV_VFS_WRITE (root, jailed root
// included while the jail has allow.suser); EACCES otherwise.
func vaccess(cr *jail.Ucred, uid, gid int, mode uint32, flags int) error {
	if cr == nil {
		return abi.EACCES
	}
	bits := mode & 0o7
	switch {
	case cr.UID == uid:
		bits = mode >> 6 & 0o7
	case cr.InGroup(gid):
		bits = mode >> 3 & 0o7
	}
	if flags&FREAD != 0 && bits&0o4 == 0 && jail.PrivCheck(cr, jail.PRIV_VFS_READ) != nil ||
		flags&FWRITE != 0 && bits&0o2 == 0 && jail.PrivCheck(cr, jail.PRIV_VFS_WRITE) != nil {
		return abi.EACCES
	}
	return nil
}

// OpenVM opens /dev/vmm/NAME.
func (k *Kernel) OpenVM(td *Thread, name string) (*Cdev, error) {
	n, err := k.Open(td, "/dev/vmm/"+name)
	if err != nil {
		return nil, err
	}
	c, ok := n.(*Cdev)
	if !ok {
		return nil, abi.ENOENT
	}
	return c, nil
}

// VisibleDevices lists the vmm device nodes td sees, in lexical order,
// as ls /dev/vmm /dev/vmm.io would show them in td's jail.
func (k *Kernel) VisibleDevices(td *Thread) []string {
	var out []string
	for _, p := range k.Devices() {
		if _, err := k.Open(&Thread{Cred: cred(td)}, p); !errors.Is(err, abi.ENOENT) {
			out = append(out, p)
		}
	}
	return out
}

// Devices lists every vmm device node in lexical order, as ls /dev/vmm
// /dev/vmm.io shows them on the host.
func (k *Kernel) Devices() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]string, 0, len(k.devfs))
	for p := range k.devfs {
		out = append(out, "/dev/"+p)
	}
	sort.Strings(out)
	return out
}

// checkDevname applies prep_devname's rules to a node path (reference/
// jail-and-security.md §1.11): no empty name or component (so no trailing
// or doubled '/'), no "." or ".." component, no white space or '"'; at most
// SPECNAMELEN bytes.
func checkDevname(path string) error {
	if len(path) > abi.SPECNAMELEN {
		return abi.ENAMETOOLONG
	}
	for _, c := range strings.Split(path, "/") {
		if c == "" || c == "." || c == ".." {
			return abi.EINVAL
		}
	}
	if strings.ContainsAny(path, " \t\n\r\v\f\"") {
		return abi.EINVAL
	}
	return nil
}
