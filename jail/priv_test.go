package jail

import (
	"testing"

	"softvmm/emu/abi"
)

// reference §1.10: priv_check for host root, host users, jailed root and
// jailed users.
func TestPrivCheck(t *testing.T) {
	h := NewHost()
	a := mk(t, h, h.RootCred(), "a", "allow.raw_sockets")
	nosu := mk(t, h, h.RootCred(), "nosu", "allow.nosuser")
	mnt := mk(t, h, h.RootCred(), "mnt", "allow.mount", "enforce_statfs=1")
	mnt2 := mk(t, h, h.RootCred(), "mnt2", "allow.mount")
	hostRoot := h.RootCred()
	hostUser := &Ucred{UID: 1001, Prison: h.Prison0()}
	jRoot := rootIn(h, a)
	jUser := &Ucred{UID: 1001, Prison: h.Lookup(a)}
	noSuRoot := rootIn(h, nosu)
	cases := []struct {
		what string
		cred *Ucred
		priv Priv
		want abi.Errno
	}{
		{"host root, anything", hostRoot, PRIV_DRIVER, 0},
		{"host root, kldload", hostRoot, PRIV_KLD_LOAD, 0},
		{"host user, jail_set", hostUser, PRIV_JAIL_SET, abi.EPERM},
		{"host user, kmem read (always)", hostUser, PRIV_KMEM_READ, 0},
		{"host user, mlock (unprivileged_mlock)", hostUser, PRIV_VM_MLOCK, 0},
		{"host user, msgbuf (unprivileged_read_msgbuf)", hostUser, PRIV_MSGBUF, 0},
		{"host user, debug unpriv (allow.unprivileged_proc_debug)", hostUser, PRIV_DEBUG_UNPRIV, 0},
		{"jailed root, jail_set on children", jRoot, PRIV_JAIL_SET, 0},
		{"jailed root, jail_attach", jRoot, PRIV_JAIL_ATTACH, 0},
		{"jailed root, jail_remove", jRoot, PRIV_JAIL_REMOVE, 0},
		{"jailed root, setuid", jRoot, PRIV_CRED_SETUID, 0},
		{"jailed root, PRISON sysctl", jRoot, PRIV_SYSCTL_WRITEJAIL, 0},
		{"jailed root, plain sysctl", jRoot, PRIV_SYSCTL_WRITE, abi.EPERM},
		{"jailed root, driver", jRoot, PRIV_DRIVER, abi.EPERM},
		{"jailed root, io", jRoot, PRIV_IO, abi.EPERM},
		{"jailed root, kldload", jRoot, PRIV_KLD_LOAD, abi.EPERM},
		{"jailed root, devfs rules", jRoot, PRIV_DEVFS_RULE, abi.EPERM},
		{"jailed root, reboot", jRoot, PRIV_REBOOT, abi.EPERM},
		{"jailed root, raw sockets with allow.raw_sockets", jRoot, PRIV_NETINET_RAW, 0},
		{"jailed root, chflags without allow.chflags", jRoot, PRIV_VFS_SYSFLAGS, abi.EPERM},
		{"jailed root, mlock without allow.mlock", jRoot, PRIV_VM_MLOCK, abi.EPERM},
		{"jailed root, msgbuf without allow.read_msgbuf", jRoot, PRIV_MSGBUF, abi.EPERM},
		{"jailed root, reserved port (default allow)", jRoot, PRIV_NETINET_RESERVEDPORT, 0},
		{"jailed root, mount without allow.mount", jRoot, PRIV_VFS_MOUNT, abi.EPERM},
		{"jailed root, mount with allow.mount and enforce_statfs 1", rootIn(h, mnt), PRIV_VFS_MOUNT, 0},
		{"jailed root, mount with allow.mount but enforce_statfs 2", rootIn(h, mnt2), PRIV_VFS_MOUNT, abi.EPERM},
		{"jailed root, settime (no allow.settime in 14.x)", jRoot, PRIV_CLOCK_SETTIME, abi.EPERM},
		{"jailed user, listed priv still needs root", jUser, PRIV_JAIL_SET, abi.EPERM},
		{"jailed user, mlock without allow.mlock", jUser, PRIV_VM_MLOCK, abi.EPERM},
		{"jailed user, kmem read", jUser, PRIV_KMEM_READ, 0},
		{"allow.nosuser: root is an ordinary user", noSuRoot, PRIV_JAIL_SET, abi.EPERM},
		{"allow.nosuser: PRISON sysctl", noSuRoot, PRIV_SYSCTL_WRITEJAIL, abi.EPERM},
		{"allow.nosuser: kmem read still", noSuRoot, PRIV_KMEM_READ, 0},
		{"nil credential", nil, PRIV_KMEM_READ, abi.EPERM},
	}
	for _, c := range cases {
		wantErrno(t, c.what, PrivCheck(c.cred, c.priv), c.want)
	}
	// security.bsd.suser_enabled=0 clears prison0's bit: host root loses
	// its privileges too.
	h.Prison0().SetAllow(PR_ALLOW_SUSER, false)
	wantErrno(t, "host root with suser disabled", PrivCheck(hostRoot, PRIV_DRIVER), abi.EPERM)
	if h.Lookup(a).Allowed(PR_ALLOW_SUSER) {
		t.Fatal("clearing prison0's suser bit must clear it in jails")
	}
}

// reference §1.9: sysctl_root's write gate, in order.
func TestSysctlWriteCheck(t *testing.T) {
	h := NewHost()
	a := mk(t, h, h.RootCred(), "a", "securelevel=3")
	v := mk(t, h, h.RootCred(), "v", "vnet")
	hostRoot, jRoot := h.RootCred(), rootIn(h, a)
	hostUser := &Ucred{UID: 1001, Prison: h.Prison0()}
	secure1 := uint32(CTLFLAG_RW | CTLFLAG_SECURE | 1<<CTLSHIFT_SECURE)
	cases := []struct {
		what string
		c    SysctlCred
		kind uint32
		want abi.Errno
	}{
		{"read-only node", SysctlCred{Cred: hostRoot}, CTLFLAG_RD, abi.EPERM},
		{"host root RW", SysctlCred{Cred: hostRoot}, CTLFLAG_RW, 0},
		{"host user RW", SysctlCred{Cred: hostUser}, CTLFLAG_RW, abi.EPERM},
		{"host user PRISON", SysctlCred{Cred: hostUser}, CTLFLAG_RW | CTLFLAG_PRISON, abi.EPERM},
		{"host user ANYBODY", SysctlCred{Cred: hostUser}, CTLFLAG_RW | CTLFLAG_ANYBODY, 0},
		{"jailed root RW", SysctlCred{Cred: jRoot}, CTLFLAG_RW, abi.EPERM},
		{"jailed root PRISON", SysctlCred{Cred: jRoot}, CTLFLAG_RW | CTLFLAG_PRISON, 0},
		{"jailed root VNET without own vnet", SysctlCred{Cred: jRoot}, CTLFLAG_RW | CTLFLAG_VNET, abi.EPERM},
		{"jailed root VNET with own vnet", SysctlCred{Cred: rootIn(h, v)}, CTLFLAG_RW | CTLFLAG_VNET, 0},
		{"capability mode without CAPWR", SysctlCred{Cred: hostRoot, CapMode: true}, CTLFLAG_RW, abi.EPERM},
		{"capability mode with CAPWR", SysctlCred{Cred: hostRoot, CapMode: true}, CTLFLAG_RW | CTLFLAG_CAPWR, 0},
		{"SECURE level 1, host at -1", SysctlCred{Cred: hostRoot}, secure1, 0},
		{"SECURE level 1, jail at 3", SysctlCred{Cred: jRoot}, secure1 | CTLFLAG_PRISON, abi.EPERM},
		// Order: the read-only check comes before the privilege check.
		{"read-only node, non-root", SysctlCred{Cred: hostUser}, CTLFLAG_RD | CTLFLAG_ANYBODY, abi.EPERM},
	}
	for _, c := range cases {
		wantErrno(t, c.what, c.c.WriteCheck(c.kind), c.want)
	}
	wantErrno(t, "reads need no privilege", SysctlCred{Cred: hostUser}.ReadCheck(CTLFLAG_RD), 0)
	wantErrno(t, "capability-mode read without CAPRD", SysctlCred{Cred: hostUser, CapMode: true}.ReadCheck(CTLFLAG_RD), abi.EPERM)
}
