// Package jail models FreeBSD's prisons and credentials: a tree of prisons
// rooted at prison0, each with a pr_allow bitmask whose high bits are handed
// out at run time by AddAllow (the way vmm's module load creates
// allow.vmm), ucreds that point at a prison, the jail_set/jail_get/
// jail_remove/jail_attach system calls with FreeBSD's errno precedence,
// priv_check for jailed root, the sysctl write gate and the
// security.jail.* nodes (SysctlInt), devfs visibility, and jail(8)'s
// parameter syntax, jail.conf(5) grammar and operations (Jail8, whose
// Request.Exec runs a new jail's command as the process attached to it).
//
// Facts: reference/jail-and-security.md §1 (kernel), §2 (jail(8),
// jail.conf) and §5 (the attack tables the tests walk through).
//
// Era: the semantics are FreeBSD 14/15's (the J15 revision of
// kern_jail.c, the 14.x static allow bits of §1.3), because that is where
// FreeBSD fixed the holes of the 12.x code: a dynamic allow bit once handed
// out is never re-issued (pr_allow_all), a dying jail is renumbered rather
// than resurrected, and allow.suser exists so priv_check can honour it.
//
// jail imports only emu/abi, and only for FreeBSD's errno values, so that a
// jail error prints as FreeBSD prints it.
package jail

import (
	"sort"
	"strings"
	"sync"

	"softvmm/emu/abi"
)

// Static PR_ALLOW_* bits (reference §1.3, 14.x values). Dynamic bits are
// handed out above and between them.
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
	PR_ALLOW_UNPRIV_DEBUG            = PR_ALLOW_UNPRIVILEGED_PROC_DEBUG // sys/jail.h's spelling
	PR_ALLOW_SUSER                   = 0x0400
	PR_ALLOW_RESERVED_PORTS          = 0x8000
	PR_ALLOW_KMEM_ACCESS             = 0x10000 // reserved, no parameter
	PR_ALLOW_NFSD                    = 0x20000

	// PR_ALLOW_ALL_STATIC is the 14.x value (§1.3).
	PR_ALLOW_ALL_STATIC = 0x000387ff

	// PR_ALLOW_DIFFERENCES is the only bit a child may hold that its
	// parent lacks (§1.3).
	PR_ALLOW_DIFFERENCES = PR_ALLOW_UNPRIVILEGED_PROC_DEBUG

	// JAIL_DEFAULT_ALLOW is what a new jail starts with, masked by its
	// parent's bits (§1.5).
	JAIL_DEFAULT_ALLOW = PR_ALLOW_SET_HOSTNAME | PR_ALLOW_RESERVED_PORTS |
		PR_ALLOW_UNPRIVILEGED_PROC_DEBUG | PR_ALLOW_SUSER

	// JAIL_DEFAULT_ENFORCE_STATFS is a new jail's enforce_statfs.
	JAIL_DEFAULT_ENFORCE_STATFS = 2

	// JAIL_MAX is the largest jail id (§1.2).
	JAIL_MAX = 999999

	// MAXHOSTNAMELEN bounds name, host.hostname and host.domainname,
	// NUL included; HOSTUUIDLEN bounds host.hostuuid; OSRELEASELEN
	// bounds osrelease (§1.2, §1.7 step 9 and 11).
	MAXHOSTNAMELEN = 256
	HOSTUUIDLEN    = 64
	OSRELEASELEN   = 32
	MAXPATHLEN     = 1024

	// JAIL_MAX_AF_IPS is security.jail.jail_max_af_ips (§1.5).
	JAIL_MAX_AF_IPS = 255

	// allowSlots is the size of pr_flag_allow: NBBY*NBPW entries (§1.6).
	allowSlots = 32
)

// pr_flags bits (§1.2).
const (
	PR_PERSIST  = 0x01
	PR_HOST     = 0x02
	PR_IP4_USER = 0x04
	PR_IP6_USER = 0x08
	PR_VNET     = 0x10

	// PR_IP4/PR_IP6: the jail's address list restricts it (kernel
	// internal; with PR_IP4_USER it reads back as ip4=new).
	PR_IP4 = 0x02000000
	PR_IP6 = 0x04000000
)

// State is pr_state (§1.2): a prison is ALIVE while it has user
// references, DYING after, and INVALID once freed (or before it is built).
type State int

const (
	PRISON_STATE_INVALID State = iota
	PRISON_STATE_ALIVE
	PRISON_STATE_DYING
)

func (s State) String() string {
	switch s {
	case PRISON_STATE_ALIVE:
		return "ALIVE"
	case PRISON_STATE_DYING:
		return "DYING"
	}
	return "INVALID"
}

// staticAllow is the static part of pr_flag_allow in kern_jail.c's order.
// PR_ALLOW_NFSD has a name because GENERIC kernels have VIMAGE.
var staticAllow = []struct {
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
	{"reserved_ports", PR_ALLOW_RESERVED_PORTS},
	{"read_msgbuf", PR_ALLOW_READ_MSGBUF},
	{"unprivileged_proc_debug", PR_ALLOW_UNPRIVILEGED_PROC_DEBUG},
	{"suser", PR_ALLOW_SUSER},
	{"nfsd", PR_ALLOW_NFSD},
}

// allowEntry is one slot of the allow-name table (pr_flag_allow): the
// parameter names allow.X and allow.noX and the bit.
type allowEntry struct {
	name   string // "vmm", "mount.tmpfs"
	param  string // "allow.vmm"
	noname string // "allow.novmm", "allow.mount.notmpfs"
	bit    uint32
}

// Prison is struct prison. Parent never changes; ID changes only when a
// dying jail is renumbered because a new jail claimed its jid (J15), and
// Name only when jail_set renames the jail — read them with JID and
// FullName when another goroutine may be doing that. Everything else is
// reached through methods, under the host's lock.
type Prison struct {
	ID     int    // pr_id; 0 is prison0
	Name   string // pr_name, full dotted name relative to prison0
	Parent *Prison

	host *Host

	// All below guarded by host.mu.
	allow         uint32 // pr_allow
	flags         uint32 // pr_flags
	kids          []*Prison
	childCount    int // pr_childcount: all descendants
	childMax      int // pr_childmax
	uref          int // processes + persist + unfreed children
	holds         int // explicit prison_hold references
	state         State
	securelevel   int
	enforceStatfs int
	devfsRuleset  int
	hostname      string
	domainname    string
	hostuuid      string
	hostid        uint64
	path          string
	osrelease     string
	osreldate     int
	ip4, ip6      []byte // pr_addrs as raw in_addr / in6_addr arrays
	procs         []*Proc
}

// Host is one emulated FreeBSD system's jail state: prison0, the jail tree
// (allprison, sorted by jid), the allow-name table and the jid
// allocator. Everything is per Host, so tests can run many systems side
// by side.
type Host struct {
	mu         sync.Mutex
	prison0    *Prison
	table      []allowEntry // at most allowSlots entries, static names first
	allowAll   uint32       // pr_allow_all: every bit ever handed out
	all        []*Prison    // allprison without prison0, sorted by ID
	byID       map[int]*Prison
	lastprid   int
	lastdeadid int
	jailMax    int // JAIL_MAX; lowered by tests to reach exhaustion
	nextPID    int
	devfs      map[int][]DevfsRule // devfs rulesets; looked up, never iterated

	// defaultAllow is jail_default_allow, the bits the legacy jail(2)
	// path hands out, set through security.jail.*_allowed (§1.6 step 5).
	defaultAllow uint32
}

// NewHost returns a system with only prison0, initialised as §1.2 says:
// id 0, name "0", path "/", securelevel -1, devfs ruleset 0, children.max
// JAIL_MAX, PR_HOST|PR_VNET, every static allow bit, ALIVE, with one user
// reference that never goes away.
func NewHost() *Host {
	h := &Host{allowAll: PR_ALLOW_ALL_STATIC, byID: make(map[int]*Prison), jailMax: JAIL_MAX, nextPID: 1,
		defaultAllow: JAIL_DEFAULT_ALLOW}
	h.prison0 = &Prison{
		ID: 0, Name: "0", host: h,
		allow:       PR_ALLOW_ALL_STATIC,
		flags:       PR_HOST | PR_VNET,
		childMax:    JAIL_MAX,
		uref:        1,
		state:       PRISON_STATE_ALIVE,
		securelevel: -1,
		path:        "/",
		hostuuid:    "00000000-0000-0000-0000-000000000000",
		osrelease:   "12.4-RELEASE",
		osreldate:   1204000,
	}
	for _, s := range staticAllow {
		h.table = append(h.table, newAllowEntry(s.name, s.bit))
	}
	return h
}

// setJailMax lowers JAIL_MAX for this host (tests reach jid exhaustion
// without a million prisons).
func (h *Host) setJailMax(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.jailMax = n
	h.prison0.childMax = n
}

func newAllowEntry(name string, bit uint32) allowEntry {
	return allowEntry{name: name, param: "allow." + name, noname: noName("allow." + name), bit: bit}
}

// noName puts "no" on the last dotted component: allow.vmm → allow.novmm,
// allow.mount.zfs → allow.mount.nozfs (§1.6 step 1, §2.2).
func noName(name string) string {
	i := strings.LastIndexByte(name, '.')
	return name[:i+1] + "no" + name[i+1:]
}

// Prison0 is the host's root prison.
func (h *Host) Prison0() *Prison { return h.prison0 }

// RootCred is uid 0 in prison0: the host's superuser.
func (h *Host) RootCred() *Ucred { return &Ucred{UID: 0, Prison: h.prison0} }

// AddAllow is prison_add_allow(NULL, name, ...) (§1.6): it hands out the
// lowest pr_allow bit never handed out before (pr_allow_all, J15), records
// allow.<name> and allow.no<name> (the "no" on the last component), and
// sets the bit in prison0 only: every existing jail has it off. A name
// containing dots ("mount.tmpfs") is the prefixed form. Registering a
// name again returns the same bit, as a module reload does. When the 32
// bits or the 32 table slots run out it returns 0, and every jailed
// caller then fails the bit's check (fail-closed); jail_set keeps calling
// allow.<name> an unknown parameter.
func (h *Host) AddAllow(name string) uint32 {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.table {
		if e.name == name {
			return e.bit
		}
	}
	if len(h.table) >= allowSlots {
		return 0
	}
	for bit := uint32(1); bit != 0; bit <<= 1 {
		if h.allowAll&bit != 0 {
			continue
		}
		h.allowAll |= bit
		h.table = append(h.table, newAllowEntry(name, bit))
		h.prison0.allow |= bit
		return bit
	}
	return 0
}

// AllowBit returns the bit registered for allow.<name>, if any. A name
// that was never registered is an unknown jail parameter (§1.6: allow.vmm
// exists only once vmm has been loaded).
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

// AllowNames lists the registered allow parameters (without "allow."),
// static ones first, in registration order.
func (h *Host) AllowNames() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, len(h.table))
	for i, e := range h.table {
		out[i] = e.name
	}
	return out
}

// CreatePrison makes a persistent child of parent named name (one
// component), with JAIL_DEFAULT_ALLOW & parent's bits plus the named
// allow bits, as the host's root does with jail_set(JAIL_CREATE) and
// persist. Asking for a bit the parent lacks is EPERM, an unknown allow
// name EINVAL ("unknown parameter"), a live sibling of that name EEXIST
// (§1.5, §1.7 steps 14–17).
func (h *Host) CreatePrison(parent *Prison, name string, allow ...string) (*Prison, error) {
	if name == "" || strings.Contains(name, ".") {
		return nil, abi.EINVAL
	}
	full := name
	if parent != h.prison0 {
		full = parent.FullName() + "." + name
	}
	ps := []Param{StrParam("name", full), BoolParam("persist")}
	for _, a := range allow {
		ps = append(ps, BoolParam("allow."+a))
	}
	jid, err := h.JailSet(h.RootCred(), ps, JAIL_CREATE)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.byID[jid], nil
}

// Lookup returns the live or dying prison with jid id, or nil. It is a
// host-side view (no visibility rule); prison0 is id 0.
func (h *Host) Lookup(id int) *Prison {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id == 0 {
		return h.prison0
	}
	return h.byID[id]
}

// Prisons lists every prison but prison0 (live and dying) in jid order.
func (h *Host) Prisons() []*Prison {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Prison(nil), h.all...)
}

func qualify(parent *Prison, name string) string {
	if parent.ID == 0 {
		return name
	}
	return parent.Name + "." + name
}

// JID is pr_id read under the host lock.
func (p *Prison) JID() int {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.ID
}

// FullName is pr_name read under the host lock.
func (p *Prison) FullName() string {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.Name
}

// Allowed reports whether the prison holds allow bit bit. Bit 0 (an
// allow flag that could not be registered) is never held.
func (p *Prison) Allowed(bit uint32) bool {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.allow&bit != 0
}

// AllowMask is pr_allow.
func (p *Prison) AllowMask() uint32 {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.allow
}

// SetAllow turns bit on or off in p. Turning it on needs the parent to
// hold it (EPERM otherwise; unprivileged_proc_debug excepted); turning it
// off clears it in every descendant too, and turning it on again does not
// restore theirs (§1.5, prison_set_allow_locked). On prison0 it is what
// the security.bsd.suser_enabled-style global knobs do.
func (p *Prison) SetAllow(bit uint32, on bool) error {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	if !on {
		clearDown(p, bit)
		return nil
	}
	if p.Parent != nil && bit&^p.Parent.allow&^PR_ALLOW_DIFFERENCES != 0 {
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

// State is pr_state.
func (p *Prison) State() State {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.state
}

// Alive is prison_isalive.
func (p *Prison) Alive() bool { return p.State() == PRISON_STATE_ALIVE }

// Persist reports the persist flag.
func (p *Prison) Persist() bool {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.flags&PR_PERSIST != 0
}

// Flags is pr_flags.
func (p *Prison) Flags() uint32 {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.flags
}

// Refs returns pr_ref and pr_uref. In this model pr_ref is the user
// references plus explicit Hold()s.
func (p *Prison) Refs() (ref, uref int) {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.uref + p.holds, p.uref
}

// Children lists the direct children (live and dying) in creation order.
func (p *Prison) Children() []*Prison {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return append([]*Prison(nil), p.kids...)
}

// ChildCount is children.cur: every descendant, not just children.
func (p *Prison) ChildCount() int {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.childCount
}

// ChildMax is children.max.
func (p *Prison) ChildMax() int {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.childMax
}

// Securelevel is pr_securelevel.
func (p *Prison) Securelevel() int {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.securelevel
}

// EnforceStatfs is pr_enforce_statfs.
func (p *Prison) EnforceStatfs() int {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.enforceStatfs
}

// DevfsRuleset is pr_devfs_rsnum.
func (p *Prison) DevfsRuleset() int {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.devfsRuleset
}

// Hostname is pr_hostname.
func (p *Prison) Hostname() string {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.hostname
}

// Path is pr_path, as the host sees it.
func (p *Prison) Path() string {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.path
}

// OSRelease is pr_osrelease.
func (p *Prison) OSRelease() string {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.osrelease
}

// Hold is prison_hold: a counted reference (a VM's creator credential,
// say) that keeps a dying prison from being freed. It reports false for a
// prison already freed.
func (p *Prison) Hold() bool {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	if p.state == PRISON_STATE_INVALID && p.ID != 0 {
		return false
	}
	p.holds++
	return true
}

// Free is prison_free: drops a Hold. The last reference on a dying
// prison frees it, which releases its user reference on its parent.
func (p *Prison) Free() {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	if p.holds == 0 {
		return
	}
	p.holds--
	p.host.maybeFreeLocked(p)
}

// isChild is prison_ischild: pr2 is a strict descendant of pr1.
func isChild(pr1, pr2 *Prison) bool {
	for p := pr2.Parent; p != nil; p = p.Parent {
		if p == pr1 {
			return true
		}
	}
	return false
}

// IsDescendant reports prison_ischild(p, q): q lies strictly below p.
func (p *Prison) IsDescendant(q *Prison) bool {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return isChild(p, q)
}

// relName is prison_name(pr1, pr2): pr2's name as pr1 sees it. A jail
// sees itself as "0".
func relName(pr1, pr2 *Prison) string {
	if pr1 == pr2 {
		return "0"
	}
	name := pr2.Name
	if isChild(pr1, pr2) {
		for p := pr1; p.ID != 0; p = p.Parent {
			name = name[strings.IndexByte(name, '.')+1:]
		}
	}
	return name
}

// relPath is prison_path(pr1, pr2).
func relPath(pr1, pr2 *Prison) string {
	p1, p2 := pr1.path, pr2.path
	if p1 == "/" {
		return p2
	}
	if !strings.HasPrefix(p2, p1) {
		return p2
	}
	if len(p2) == len(p1) {
		return "/"
	}
	if p2[len(p1)] == '/' {
		return p2[len(p1):]
	}
	return p2
}

// findChild is prison_find_child: a strict descendant of mypr with jid
// id, alive or dying.
func (h *Host) findChild(mypr *Prison, id int) *Prison {
	p := h.byID[id]
	if p == nil || !isChild(mypr, p) {
		return nil
	}
	return p
}

// findName is prison_find_name: the descendant of mypr whose name
// relative to mypr is name, preferring a live one over a dying one.
func (h *Host) findName(mypr *Prison, name string) *Prison {
	full := name
	if mypr.ID != 0 {
		full = mypr.Name + "." + name
	}
	var dead *Prison
	for _, p := range h.all {
		if p.Name != full || !isChild(mypr, p) {
			continue
		}
		if p.state == PRISON_STATE_ALIVE {
			return p
		}
		if dead == nil {
			dead = p
		}
	}
	return dead
}

// insertLocked links p into allprison at its jid.
func (h *Host) insertLocked(p *Prison) {
	i := sort.Search(len(h.all), func(i int) bool { return h.all[i].ID >= p.ID })
	h.all = append(h.all, nil)
	copy(h.all[i+1:], h.all[i:])
	h.all[i] = p
	h.byID[p.ID] = p
}

func (h *Host) unlinkLocked(p *Prison) {
	i := sort.Search(len(h.all), func(i int) bool { return h.all[i].ID >= p.ID })
	if i < len(h.all) && h.all[i] == p {
		h.all = append(h.all[:i], h.all[i+1:]...)
	}
	if h.byID[p.ID] == p {
		delete(h.byID, p.ID)
	}
}

// nextPrid is get_next_prid: the next free jid after the last one handed
// out, wrapping at JAIL_MAX; 0 when every jid is taken (§1.4).
func (h *Host) nextPrid() int {
	jid := h.lastprid%h.jailMax + 1
	for n := 0; n < h.jailMax; n++ {
		if h.byID[jid] == nil {
			h.lastprid = jid
			return jid
		}
		jid = jid%h.jailMax + 1
	}
	return 0
}

// nextDeadid is get_next_deadid: the same search counting down from
// JAIL_MAX, for renumbering a dying jail whose jid a create wants.
func (h *Host) nextDeadid() int {
	id := h.jailMax
	if h.lastdeadid != 0 {
		id = h.lastdeadid - 1
	}
	for n := 0; n < h.jailMax; n++ {
		if id < 1 {
			id = h.jailMax
		}
		if h.byID[id] == nil {
			h.lastdeadid = id
			return id
		}
		id--
	}
	return 0
}

// urefDropLocked is prison_deref(PD_DEUREF): losing the last user
// reference makes a prison dying, and a dying prison with no reference
// left is freed.
func (h *Host) urefDropLocked(p *Prison) {
	p.uref--
	if p.uref == 0 && p.state == PRISON_STATE_ALIVE {
		p.state = PRISON_STATE_DYING
	}
	h.maybeFreeLocked(p)
}

// maybeFreeLocked frees a prison with no references at all: it leaves
// allprison and its parent's child list, every ancestor's children.cur
// drops, and the parent loses the reference this child held on it
// ("Removing a prison frees a reference on its parent").
func (h *Host) maybeFreeLocked(p *Prison) {
	if p.ID == 0 || p.state == PRISON_STATE_INVALID || p.uref != 0 || p.holds != 0 {
		return
	}
	p.state = PRISON_STATE_INVALID
	h.unlinkLocked(p)
	pp := p.Parent
	for i, k := range pp.kids {
		if k == p {
			pp.kids = append(pp.kids[:i], pp.kids[i+1:]...)
			break
		}
	}
	for a := pp; a != nil; a = a.Parent {
		a.childCount--
	}
	h.urefDropLocked(pp)
}

// killLocked is prison_deref(PD_KILL) (J15): p and every descendant lose
// persist, become dying, and their processes are killed; then whatever
// has no references left is freed, bottom up.
func (h *Host) killLocked(p *Prison) {
	var mark func(*Prison)
	mark = func(q *Prison) {
		if q.state == PRISON_STATE_ALIVE {
			q.state = PRISON_STATE_DYING
		}
		for _, k := range q.kids {
			mark(k)
		}
	}
	mark(p)
	var reap func(*Prison)
	reap = func(q *Prison) {
		for _, k := range append([]*Prison(nil), q.kids...) {
			reap(k)
		}
		if q.flags&PR_PERSIST != 0 {
			q.flags &^= PR_PERSIST
			q.uref--
		}
		for _, pr := range append([]*Proc(nil), q.procs...) {
			pr.killed = true
			h.exitLocked(pr)
		}
		h.maybeFreeLocked(q)
	}
	reap(p)
}
