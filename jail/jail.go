// Package jail models FreeBSD's prisons and credentials as far as vmm(4)
// needs them: a tree of prisons rooted at prison0, each with a pr_allow
// bitmask whose high bits are handed out at run time by AddAllow (the way
// vmm's module load creates allow.vmm), and ucreds that point at a prison.
//
// Facts: reference/jail-and-security.md §1.1–§1.6. This is the minimal model
// the vmm cdev needs; jail_set/jail_get/jail(8) come with their own issue.
//
// jail imports only emu/abi, and only for FreeBSD's errno values, so that a
// jail error prints as FreeBSD prints it.
package jail

import (
	"strings"
	"sync"

	"softvmm/emu/abi"
)

// Static PR_ALLOW_* bits (reference §1.3, 12.x values): dynamic bits are
// handed out above them.
const (
	PR_ALLOW_SET_HOSTNAME            = 0x0001
	PR_ALLOW_SYSVIPC                 = 0x0002
	PR_ALLOW_RAW_SOCKETS             = 0x0004
	PR_ALLOW_CHFLAGS                 = 0x0008
	PR_ALLOW_MOUNT                   = 0x0010
	PR_ALLOW_QUOTAS                  = 0x0020
	PR_ALLOW_SOCKET_AF               = 0x0040
	PR_ALLOW_MLOCK                   = 0x0080
	PR_ALLOW_READ_MSGBUF             = 0x0100
	PR_ALLOW_UNPRIVILEGED_PROC_DEBUG = 0x0200
	PR_ALLOW_RESERVED_PORTS          = 0x8000
	PR_ALLOW_KMEM_ACCESS             = 0x10000

	// PR_ALLOW_ALL_STATIC is the 12.x value (§1.3).
	PR_ALLOW_ALL_STATIC = 0x000183ff

	// JAIL_DEFAULT_ALLOW is what a new jail starts with, masked by its
	// parent's bits (§1.5).
	JAIL_DEFAULT_ALLOW = PR_ALLOW_SET_HOSTNAME | PR_ALLOW_RESERVED_PORTS | PR_ALLOW_UNPRIVILEGED_PROC_DEBUG

	// JAIL_MAX is the largest jail id (§1.2).
	JAIL_MAX = 999999
)

var staticAllowNames = []struct {
	name string
	bit  uint32
}{
	{"set_hostname", PR_ALLOW_SET_HOSTNAME},
	{"sysvipc", PR_ALLOW_SYSVIPC},
	{"raw_sockets", PR_ALLOW_RAW_SOCKETS},
	{"chflags", PR_ALLOW_CHFLAGS},
	{"mount", PR_ALLOW_MOUNT},
	{"quotas", PR_ALLOW_QUOTAS},
	{"socket_af", PR_ALLOW_SOCKET_AF},
	{"mlock", PR_ALLOW_MLOCK},
	{"read_msgbuf", PR_ALLOW_READ_MSGBUF},
	{"unprivileged_proc_debug", PR_ALLOW_UNPRIVILEGED_PROC_DEBUG},
	{"reserved_ports", PR_ALLOW_RESERVED_PORTS},
}

// Prison is struct prison, reduced to what the vmm door checks consult.
type Prison struct {
	ID     int    // pr_id; 0 is prison0
	Name   string // pr_name, full dotted name relative to prison0
	Parent *Prison

	host  *Host
	allow uint32 // pr_allow; guarded by host.mu
	kids  []*Prison
}

// allowEntry is one slot of the allow-name table (pr_flag_allow).
type allowEntry struct {
	name string
	bit  uint32
}

// Host is one emulated FreeBSD system's jail state: prison0, the jail tree
// and the allow-name table. Everything is per Host, so tests can run many
// systems side by side.
type Host struct {
	mu      sync.Mutex
	prison0 *Prison
	table   []allowEntry // at most 32 entries, static names first
	nextJID int
}

// NewHost returns a system with only prison0, which holds every static
// allow bit (§1.2).
func NewHost() *Host {
	h := &Host{nextJID: 1}
	h.prison0 = &Prison{ID: 0, Name: "0", host: h, allow: PR_ALLOW_ALL_STATIC}
	for _, s := range staticAllowNames {
		h.table = append(h.table, allowEntry{s.name, s.bit})
	}
	return h
}

// Prison0 is the host's root prison.
func (h *Host) Prison0() *Prison { return h.prison0 }

// AddAllow is prison_add_allow(NULL, name, ...) (§1.6): it hands out the
// lowest pr_allow bit that is neither static nor already in prison0's mask,
// records allow.<name>, and sets the bit in prison0 only (every jail has it
// off). Registering a name again returns the same bit, as a module reload
// does. When the 32 bits or table slots run out it returns 0, and every
// jailed caller then fails the bit's check: fail-closed.
func (h *Host) AddAllow(name string) uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.table {
		if e.name == name {
			return e.bit
		}
	}
	if len(h.table) >= 32 {
		return 0
	}
	for bit := uint32(1); bit != 0; bit <<= 1 {
		if bit&PR_ALLOW_ALL_STATIC != 0 || h.prison0.allow&bit != 0 {
			continue
		}
		h.table = append(h.table, allowEntry{name, bit})
		h.prison0.allow |= bit
		return bit
	}
	return 0
}

// AllowBit returns the bit registered for allow.<name>, if any. A name
// that was never registered is an unknown jail parameter (§1.6: allow.vmm
// exists only while vmm is loaded).
func (h *Host) AllowBit(name string) (uint32, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.table {
		if e.name == name {
			return e.bit, true
		}
	}
	return 0, false
}

// CreatePrison makes a persistent child of parent named name (the last
// dotted component), with JAIL_DEFAULT_ALLOW & parent's bits plus the
// named allow bits. Asking for a bit the parent lacks is EPERM and an
// unknown allow name EINVAL ("unknown parameter"), as jail_set does
// (§1.5, §1.7 step 16–17). The full jail_set comes with the jail issue.
func (h *Host) CreatePrison(parent *Prison, name string, allow ...string) (*Prison, error) {
	if name == "" || strings.Contains(name, ".") {
		return nil, abi.EINVAL
	}
	var want uint32
	for _, a := range allow {
		bit, ok := h.AllowBit(a)
		if !ok {
			return nil, abi.EINVAL
		}
		want |= bit
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range parent.kids {
		if k.Name == qualify(parent, name) {
			return nil, abi.EEXIST
		}
	}
	if want&^parent.allow&^PR_ALLOW_UNPRIVILEGED_PROC_DEBUG != 0 {
		return nil, abi.EPERM
	}
	if h.nextJID > JAIL_MAX {
		return nil, abi.EAGAIN
	}
	p := &Prison{
		ID:     h.nextJID,
		Name:   qualify(parent, name),
		Parent: parent,
		host:   h,
		allow:  JAIL_DEFAULT_ALLOW&parent.allow | want,
	}
	h.nextJID++
	parent.kids = append(parent.kids, p)
	return p, nil
}

func qualify(parent *Prison, name string) string {
	if parent.ID == 0 {
		return name
	}
	return parent.Name + "." + name
}

// Allowed reports whether the prison holds allow bit bit. Bit 0 (an
// allow flag that could not be registered) is never held.
func (p *Prison) Allowed(bit uint32) bool {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.allow&bit != 0
}

// SetAllow turns bit on or off in p. Turning it on needs the parent to
// hold it (EPERM otherwise); turning it off clears it in every
// descendant too, and turning it on again does not restore theirs (§1.5).
func (p *Prison) SetAllow(bit uint32, on bool) error {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	if !on {
		clearDown(p, bit)
		return nil
	}
	if p.Parent != nil && p.Parent.allow&bit == 0 {
		return abi.EPERM
	}
	p.allow |= bit
	return nil
}

func clearDown(p *Prison, bit uint32) {
	p.allow &^= bit
	for _, k := range p.kids {
		clearDown(k, bit)
	}
}

// Ucred is struct ucred: who is calling and from which prison.
type Ucred struct {
	UID    int
	Prison *Prison
}

// Jailed is jailed(cred): the credential's prison is not prison0. It says
// nothing about depth (§1.1).
func (c *Ucred) Jailed() bool { return c.Prison.ID != 0 }

// RootCred is uid 0 in prison0: the host's superuser.
func (h *Host) RootCred() *Ucred { return &Ucred{UID: 0, Prison: h.prison0} }
