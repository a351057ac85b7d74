package jail

import "softvmm/emu/abi"

// Priv names a privilege of priv(9). The names are FreeBSD's; the
// numbers are softvmm's own (priv.h's numbering never crosses an ABI
// here).
type Priv int

// Privileges prison_priv_check knows about (reference §1.10), plus the
// denied ones the emulator's callers ask for.
const (
	_ Priv = iota
	PRIV_ACCT
	PRIV_MAXFILES
	PRIV_MAXPROC
	PRIV_KTRACE
	PRIV_REBOOT
	PRIV_DRIVER
	PRIV_IO
	PRIV_KLD_LOAD
	PRIV_KLD_UNLOAD
	PRIV_KMEM_READ
	PRIV_KMEM_WRITE
	PRIV_ADJTIME
	PRIV_NTP_ADJTIME
	PRIV_CLOCK_SETTIME
	PRIV_CRED_SETUID
	PRIV_CRED_SETEUID
	PRIV_CRED_SETGID
	PRIV_CRED_SETEGID
	PRIV_CRED_SETGROUPS
	PRIV_CRED_SETREUID
	PRIV_CRED_SETREGID
	PRIV_CRED_SETRESUID
	PRIV_CRED_SETRESGID
	PRIV_CRED_SETCRED
	PRIV_SEEOTHERGIDS
	PRIV_SEEOTHERUIDS
	PRIV_SEEJAILPROC
	PRIV_DEBUG_DIFFCRED
	PRIV_DEBUG_SUGID
	PRIV_DEBUG_UNPRIV
	PRIV_DEVFS_RULE
	PRIV_DEVFS_SYMLINK
	PRIV_JAIL_ATTACH
	PRIV_JAIL_SET
	PRIV_JAIL_REMOVE
	PRIV_PROC_LIMIT
	PRIV_PROC_SETLOGIN
	PRIV_PROC_SETRLIMIT
	PRIV_PROC_SETLOGINCLASS
	PRIV_IPC_READ
	PRIV_IPC_WRITE
	PRIV_IPC_ADMIN
	PRIV_IPC_MSGSIZE
	PRIV_MQ_ADMIN
	PRIV_SCHED_DIFFCRED
	PRIV_SCHED_CPUSET
	PRIV_SIGNAL_DIFFCRED
	PRIV_SIGNAL_SUGID
	PRIV_SYSCTL_DEBUG
	PRIV_SYSCTL_WRITE
	PRIV_SYSCTL_WRITEJAIL
	PRIV_VFS_READ
	PRIV_VFS_WRITE
	PRIV_VFS_ADMIN
	PRIV_VFS_EXEC
	PRIV_VFS_BLOCKRESERVE
	PRIV_VFS_CHFLAGS_DEV
	PRIV_VFS_CHOWN
	PRIV_VFS_CHROOT
	PRIV_VFS_RETAINSUGID
	PRIV_VFS_FCHROOT
	PRIV_VFS_LINK
	PRIV_VFS_SETGID
	PRIV_VFS_STAT
	PRIV_VFS_STICKYFILE
	PRIV_VFS_GETQUOTA
	PRIV_VFS_SETQUOTA
	PRIV_VFS_SYSFLAGS
	PRIV_VFS_MOUNT
	PRIV_VFS_UNMOUNT
	PRIV_VFS_MOUNT_NONUSER
	PRIV_VFS_MOUNT_OWNER
	PRIV_VFS_READ_DIR
	PRIV_VFS_EXTATTR_SYSTEM
	PRIV_VM_MLOCK
	PRIV_VM_MUNLOCK
	PRIV_MSGBUF
	PRIV_NETINET_RESERVEDPORT
	PRIV_NETINET_REUSEPORT
	PRIV_NETINET_SETHDROPTS
	PRIV_NETINET_RAW
	PRIV_NETINET_GETCRED
	PRIV_NET_IFCREATE
	PRIV_VMM_PPTDEV
	PRIV_VMM_CREATE
	PRIV_VMM_DESTROY
)

// prisonPrivCheck is prison_priv_check: nothing for unjailed
// credentials; for jailed ones an allow-list, anything else EPERM
// whatever the uid (§1.10, J15).
func prisonPrivCheck(cred *Ucred, priv Priv) error {
	if !cred.Jailed() {
		return nil
	}
	pr := cred.Prison
	allow := func(bit uint32) error {
		if pr.allow&bit != 0 {
			return nil
		}
		return abi.EPERM
	}
	switch priv {
	case PRIV_KTRACE,
		PRIV_CRED_SETUID, PRIV_CRED_SETEUID, PRIV_CRED_SETGID, PRIV_CRED_SETEGID,
		PRIV_CRED_SETGROUPS, PRIV_CRED_SETREUID, PRIV_CRED_SETREGID,
		PRIV_CRED_SETRESUID, PRIV_CRED_SETRESGID, PRIV_CRED_SETCRED,
		PRIV_SEEOTHERGIDS, PRIV_SEEOTHERUIDS, PRIV_SEEJAILPROC,
		PRIV_DEBUG_DIFFCRED, PRIV_DEBUG_SUGID, PRIV_DEBUG_UNPRIV,
		PRIV_PROC_LIMIT, PRIV_PROC_SETLOGIN, PRIV_PROC_SETRLIMIT,
		PRIV_IPC_READ, PRIV_IPC_WRITE, PRIV_IPC_ADMIN, PRIV_IPC_MSGSIZE, PRIV_MQ_ADMIN,
		PRIV_JAIL_ATTACH, PRIV_JAIL_SET, PRIV_JAIL_REMOVE,
		PRIV_SCHED_DIFFCRED, PRIV_SCHED_CPUSET, PRIV_SIGNAL_DIFFCRED, PRIV_SIGNAL_SUGID,
		PRIV_SYSCTL_WRITEJAIL,
		PRIV_VFS_GETQUOTA, PRIV_VFS_SETQUOTA,
		PRIV_VFS_READ, PRIV_VFS_WRITE, PRIV_VFS_ADMIN, PRIV_VFS_EXEC,
		PRIV_VFS_BLOCKRESERVE, PRIV_VFS_CHFLAGS_DEV, PRIV_VFS_CHOWN, PRIV_VFS_CHROOT,
		PRIV_VFS_RETAINSUGID, PRIV_VFS_FCHROOT, PRIV_VFS_LINK, PRIV_VFS_SETGID,
		PRIV_VFS_STAT, PRIV_VFS_STICKYFILE,
		PRIV_KMEM_READ, PRIV_VFS_READ_DIR,
		PRIV_NETINET_REUSEPORT, PRIV_NETINET_SETHDROPTS, PRIV_NETINET_GETCRED,
		PRIV_PROC_SETLOGINCLASS:
		return nil
	case PRIV_VMM_CREATE, PRIV_VMM_DESTROY:
		// Not in the verified allow-list (§3.4), but vmm.4 says a jail
		// with allow.vmm may create VMs, and vmm gates jails itself
		// (vmm_jail_priv_check): so jailed root holds them, and without
		// allow.vmm vmm refuses first.
		return nil
	case PRIV_VFS_SYSFLAGS:
		return allow(PR_ALLOW_CHFLAGS)
	case PRIV_VFS_MOUNT, PRIV_VFS_UNMOUNT, PRIV_VFS_MOUNT_NONUSER, PRIV_VFS_MOUNT_OWNER:
		if pr.allow&PR_ALLOW_MOUNT != 0 && pr.enforceStatfs < 2 {
			return nil
		}
		return abi.EPERM
	case PRIV_VM_MLOCK, PRIV_VM_MUNLOCK:
		return allow(PR_ALLOW_MLOCK)
	case PRIV_NETINET_RESERVEDPORT:
		return allow(PR_ALLOW_RESERVED_PORTS)
	case PRIV_NETINET_RAW:
		return allow(PR_ALLOW_RAW_SOCKETS)
	case PRIV_MSGBUF:
		return allow(PR_ALLOW_READ_MSGBUF)
	case PRIV_NET_IFCREATE:
		// VIMAGE jails own their network stack.
		if pr.flags&PR_VNET != 0 {
			return nil
		}
		return abi.EPERM
	}
	// PRIV_DRIVER, PRIV_IO, PRIV_KLD_*, PRIV_DEVFS_*, PRIV_SYSCTL_WRITE,
	// PRIV_REBOOT, the clock privileges (14.x has no allow.settime) and
	// PRIV_VMM_PPTDEV are denied.
	return abi.EPERM
}

// PrivCheck is priv_check_cred(cred, priv) (§1.10): the prison's
// allow-list first, then the global relaxations
// (security.bsd.unprivileged_mlock and unprivileged_read_msgbuf, both on
// by default), then the superuser rule — uid 0 with allow.suser in its
// prison (prison0's bit is security.bsd.suser_enabled) — then
// PRIV_KMEM_READ for all and PRIV_DEBUG_UNPRIV per
// allow.unprivileged_proc_debug. Anything else is EPERM.
func PrivCheck(cred *Ucred, priv Priv) error {
	if cred == nil || cred.Prison == nil {
		return abi.EPERM
	}
	h := cred.Prison.host
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := prisonPrivCheck(cred, priv); err != nil {
		return err
	}
	if priv == PRIV_VM_MLOCK || priv == PRIV_VM_MUNLOCK || priv == PRIV_MSGBUF {
		return nil
	}
	if cred.UID == 0 && cred.Prison.allow&PR_ALLOW_SUSER != 0 {
		return nil
	}
	if priv == PRIV_KMEM_READ {
		return nil
	}
	if priv == PRIV_DEBUG_UNPRIV && cred.Prison.allow&PR_ALLOW_UNPRIVILEGED_PROC_DEBUG != 0 {
		return nil
	}
	return abi.EPERM
}

// Sysctl node flags (sys/sysctl.h values).
const (
	CTLFLAG_RD      = 0x80000000
	CTLFLAG_WR      = 0x40000000
	CTLFLAG_RW      = CTLFLAG_RD | CTLFLAG_WR
	CTLFLAG_DORMANT = 0x20000000
	CTLFLAG_ANYBODY = 0x10000000
	CTLFLAG_SECURE  = 0x08000000
	CTLFLAG_PRISON  = 0x04000000
	CTLFLAG_DYN     = 0x02000000
	CTLFLAG_SKIP    = 0x01000000
	CTLMASK_SECURE  = 0x00F00000
	CTLFLAG_TUN     = 0x00080000
	CTLFLAG_RDTUN   = CTLFLAG_RD | CTLFLAG_TUN
	CTLFLAG_MPSAFE  = 0x00040000
	CTLFLAG_VNET    = 0x00020000
	CTLFLAG_DYING   = 0x00010000
	CTLFLAG_CAPRD   = 0x00008000
	CTLFLAG_CAPWR   = 0x00004000
	CTLFLAG_CAPRW   = CTLFLAG_CAPRD | CTLFLAG_CAPWR
	CTLSHIFT_SECURE = 20
)

// SysctlCred is what sysctl_root needs of the caller beyond the ucred:
// whether the process is in Capsicum capability mode.
type SysctlCred struct {
	Cred    *Ucred
	CapMode bool
}

// SysctlWriteCheck is the write half of sysctl_root's gate (§1.9), in
// its order: a node without CTLFLAG_WR is EPERM; capability mode without
// CTLFLAG_CAPWR is EPERM; CTLFLAG_SECURE nodes are EPERM above their
// securelevel; then, unless CTLFLAG_ANYBODY, PRIV_SYSCTL_WRITEJAIL for
// CTLFLAG_PRISON nodes (and CTLFLAG_VNET ones when the caller's jail owns
// its vnet) or PRIV_SYSCTL_WRITE for the rest. The net effect: jailed
// root writes only CTLFLAG_PRISON (or own-vnet) nodes; non-root nothing.
// The node's handler runs after this and may refuse on its own (vmm's
// handlers apply vmm_priv_check, even on reads).
func SysctlWriteCheck(cred *Ucred, kind uint32) error {
	return SysctlCred{Cred: cred}.WriteCheck(kind)
}

// WriteCheck is SysctlWriteCheck for a caller that may be in capability
// mode.
func (c SysctlCred) WriteCheck(kind uint32) error {
	if kind&CTLFLAG_WR == 0 {
		return abi.EPERM
	}
	if c.CapMode && kind&CTLFLAG_CAPWR == 0 {
		return abi.EPERM
	}
	if c.Cred == nil || c.Cred.Prison == nil {
		return abi.EPERM
	}
	if kind&CTLFLAG_SECURE != 0 {
		lvl := int((kind & CTLMASK_SECURE) >> CTLSHIFT_SECURE)
		if c.Cred.Prison.Securelevel() > lvl {
			return abi.EPERM
		}
	}
	if kind&CTLFLAG_ANYBODY != 0 {
		return nil
	}
	if kind&CTLFLAG_PRISON != 0 || (kind&CTLFLAG_VNET != 0 && ownsVnet(c.Cred)) {
		return PrivCheck(c.Cred, PRIV_SYSCTL_WRITEJAIL)
	}
	return PrivCheck(c.Cred, PRIV_SYSCTL_WRITE)
}

// ReadCheck is the read half: only capability mode (without
// CTLFLAG_CAPRD) can refuse a read; reads need no privilege.
func (c SysctlCred) ReadCheck(kind uint32) error {
	if c.CapMode && kind&CTLFLAG_CAPRD == 0 {
		return abi.EPERM
	}
	return nil
}

// ownsVnet is prison_owns_vnet: the jail has its own network stack.
func ownsVnet(cred *Ucred) bool {
	return cred.Jailed() && cred.Prison.Flags()&PR_VNET != 0
}
