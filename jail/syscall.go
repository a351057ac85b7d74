package jail

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"softvmm/emu/abi"
)

// jail_set/jail_get flags (sys/jail.h, §1.7). JAIL_DYING is accepted by
// jail_set and ignored, as in J15, which no longer resurrects dying jails.
const (
	JAIL_CREATE   = 0x01
	JAIL_UPDATE   = 0x02
	JAIL_ATTACH   = 0x04
	JAIL_DYING    = 0x08
	JAIL_SET_MASK = 0x0f
	JAIL_GET_MASK = 0x08
)

// jailsys parameter values (host, vnet, ip4, ip6).
const (
	JAIL_SYS_DISABLE = 0
	JAIL_SYS_NEW     = 1
	JAIL_SYS_INHERIT = 2
)

// Param is one (name, value) iovec pair of jail_set/jail_get, the value
// in the kernel's encoding: int parameters are 4 little-endian bytes
// (host.hostid 8), strings carry their NUL, booleans need no value, and
// ip4.addr/ip6.addr are arrays of 4/16-byte addresses. A nil Value in a
// jail_get request asks for that parameter.
type Param struct {
	Name  string
	Value []byte
}

// IntParam encodes a C int parameter.
func IntParam(name string, v int) Param {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, uint32(int32(v)))
	return Param{name, b}
}

// StrParam encodes a NUL-terminated string parameter.
func StrParam(name, s string) Param { return Param{name, append([]byte(s), 0)} }

// BoolParam is a boolean parameter: presence sets it; the noX spelling
// clears it.
func BoolParam(name string) Param { return Param{Name: name} }

// Params is a parameter list with typed readers, as jail_get returns it.
type Params []Param

func (ps Params) find(name string) ([]byte, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p.Value, true
		}
	}
	return nil, false
}

// Int reads a 4-byte int parameter.
func (ps Params) Int(name string) (int, bool) {
	v, ok := ps.find(name)
	if !ok || len(v) != 4 {
		return 0, false
	}
	return int(int32(binary.LittleEndian.Uint32(v))), true
}

// Str reads a NUL-terminated string parameter.
func (ps Params) Str(name string) (string, bool) {
	v, ok := ps.find(name)
	if !ok {
		return "", false
	}
	if i := strings.IndexByte(string(v), 0); i >= 0 {
		v = v[:i]
	}
	return string(v), true
}

// Bool reads a boolean as jail_get reports it (an int, nonzero true).
func (ps Params) Bool(name string) (bool, bool) {
	n, ok := ps.Int(name)
	return n != 0, ok
}

// opt is a struct vfsopt: a parameter after vfs_buildopts.
type opt struct {
	name  string
	value []byte
	pos   int
	seen  bool
}

type optlist []*opt

// buildOpts is vfs_buildopts + vfs_sanitizeopts: names must be non-empty
// and NUL-terminated (EINVAL), and of options that are the same or differ
// by a "no" (on the whole name or on the last dotted component) only the
// last is kept (§1.7).
func buildOpts(iov [][]byte) (optlist, error) {
	var opts optlist
	for i := 0; i+1 < len(iov); i += 2 {
		n := iov[i]
		if len(n) == 0 || n[len(n)-1] != 0 {
			return nil, abi.EINVAL
		}
		name := string(n[:len(n)-1])
		if strings.IndexByte(name, 0) >= 0 || name == "" {
			return nil, abi.EINVAL
		}
		opts = append(opts, &opt{name: name, value: iov[i+1], pos: i / 2})
	}
	var out optlist
	for i := len(opts) - 1; i >= 0; i-- {
		dup := false
		for _, o := range out {
			if equalOpts(o.name, opts[i].name) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, opts[i])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// equalOpts is vfs_equalopts extended to dotted names: X, noX, a.X and
// a.noX name the same option.
func equalOpts(a, b string) bool {
	if a == b || "no"+a == b || "no"+b == a {
		return true
	}
	ia, ib := strings.LastIndexByte(a, '.'), strings.LastIndexByte(b, '.')
	if ia < 0 || ib < 0 || a[:ia] != b[:ib] {
		return false
	}
	la, lb := a[ia+1:], b[ib+1:]
	return "no"+la == lb || "no"+lb == la
}

func (ol optlist) get(name string) *opt {
	for _, o := range ol {
		if o.name == name {
			o.seen = true
			return o
		}
	}
	return nil
}

// copyInt is vfs_copyopt for a C int: absent → ok false; wrong size →
// EINVAL.
func (ol optlist) copyInt(name string) (int, bool, error) {
	o := ol.get(name)
	if o == nil {
		return 0, false, nil
	}
	if len(o.value) != 4 {
		return 0, false, abi.EINVAL
	}
	return int(int32(binary.LittleEndian.Uint32(o.value))), true, nil
}

// flag is vfs_flagopt: presence only.
func (ol optlist) flag(name string) bool { return ol.get(name) != nil }

// getStr is vfs_getopt for a string that must be non-empty and
// NUL-terminated (EINVAL) and fit in max bytes with its NUL
// (ENAMETOOLONG).
func (ol optlist) getStr(name string, max int) (string, bool, error) {
	o := ol.get(name)
	if o == nil {
		return "", false, nil
	}
	if len(o.value) == 0 || o.value[len(o.value)-1] != 0 {
		return "", false, abi.EINVAL
	}
	if len(o.value) > max {
		return "", false, abi.ENAMETOOLONG
	}
	s := string(o.value[:len(o.value)-1])
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i] // the kernel reads up to the first NUL
	}
	return s, true, nil
}

func toIov(params []Param) [][]byte {
	iov := make([][]byte, 0, 2*len(params))
	for _, p := range params {
		iov = append(iov, append([]byte(p.Name), 0), p.Value)
	}
	return iov
}

// JailSet is jail_set(2) from the thread whose credential is cred; it
// returns the jid. JAIL_ATTACH moves cred's process (if it has one) into
// the jail. Errors are FreeBSD's, in kern_jail_set's order (§1.7).
func (h *Host) JailSet(cred *Ucred, params []Param, flags int) (int, error) {
	jid, _, err := h.JailSetIov(cred, toIov(params), flags)
	return jid, err
}

// JailSetIov is jail_set(2) on raw iovecs (names with their NUL), with
// the message the kernel writes to "errmsg". An odd iovec count is EINVAL
// before anything else, as in sys_jail_set.
func (h *Host) JailSetIov(cred *Ucred, iov [][]byte, flags int) (jid int, errmsg string, err error) {
	if len(iov)&1 != 0 {
		return 0, "", abi.EINVAL
	}
	return h.kernJailSet(cred, iov, flags)
}

// jailsys describes pr_flag_jailsys: the flag a "new" value sets, the
// flag a "disable" value sets (0: disable not allowed).
var jailsysFlags = []struct {
	name         string
	disable, new uint32
}{
	{"host", 0, PR_HOST},
	{"vnet", 0, PR_VNET},
	{"ip4", PR_IP4_USER, PR_IP4_USER | PR_IP4},
	{"ip6", PR_IP6_USER, PR_IP6_USER | PR_IP6},
}

func (h *Host) kernJailSet(cred *Ucred, iov [][]byte, flags int) (int, string, error) {
	fail := func(e abi.Errno, format string, a ...any) (int, string, error) {
		if format == "" {
			return 0, "", e
		}
		return 0, fmt.Sprintf(format, a...), e
	}
	// Step 1: privileges.
	if err := PrivCheck(cred, PRIV_JAIL_SET); err != nil {
		return 0, "", err
	}
	if flags&JAIL_ATTACH != 0 {
		if err := PrivCheck(cred, PRIV_JAIL_ATTACH); err != nil {
			return 0, "", err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	mypr := cred.Prison
	// Step 2: a caller whose children.max is 0 may not create.
	if flags&JAIL_CREATE != 0 && mypr.childMax == 0 {
		return fail(abi.EPERM, "")
	}
	// Step 3: flag bits.
	if flags&^JAIL_SET_MASK != 0 {
		return fail(abi.EINVAL, "")
	}
	// Step 4: the option list.
	opts, err := buildOpts(iov)
	if err != nil {
		return 0, "", err
	}
	opts.get("errmsg")
	// Step 5: an operation.
	cuflags := flags & (JAIL_CREATE | JAIL_UPDATE)
	if cuflags == 0 {
		return fail(abi.EINVAL, "no valid operation (create or update)")
	}
	// Step 6: integer parameters.
	jid, _, err := opts.copyInt("jid")
	if err != nil {
		return 0, "", err
	}
	slevel, gotslevel, err := opts.copyInt("securelevel")
	if err != nil {
		return 0, "", err
	}
	childmax, gotchildmax, err := opts.copyInt("children.max")
	if err != nil {
		return 0, "", err
	}
	enforce, gotenforce, err := opts.copyInt("enforce_statfs")
	if err != nil {
		return 0, "", err
	}
	if gotenforce && (enforce < 0 || enforce > 2) {
		return fail(abi.EINVAL, "")
	}
	rsnum, gotrsnum, err := opts.copyInt("devfs_ruleset")
	if err != nil {
		return 0, "", err
	}
	// Step 7: flags and jailsys parameters.
	var prFlags, chFlags uint32
	if opts.flag("persist") {
		prFlags |= PR_PERSIST
	}
	if opts.flag("nopersist") {
		chFlags |= PR_PERSIST
	}
	chFlags |= prFlags
	for _, js := range jailsysFlags {
		v, ok, err := opts.copyInt(js.name)
		if err != nil {
			return 0, "", err
		}
		if !ok {
			continue
		}
		switch v {
		case JAIL_SYS_DISABLE:
			if js.disable == 0 {
				return fail(abi.EINVAL, "")
			}
			prFlags |= js.disable
		case JAIL_SYS_NEW:
			prFlags |= js.new
		case JAIL_SYS_INHERIT:
		default:
			return fail(abi.EINVAL, "")
		}
		chFlags |= js.new | js.disable
	}
	// Step 8: persist or attach; creation-only modes.
	if flags&(JAIL_CREATE|JAIL_ATTACH) == JAIL_CREATE && prFlags&PR_PERSIST == 0 {
		return fail(abi.EINVAL, "new jail must persist or attach")
	}
	if flags&JAIL_UPDATE != 0 && chFlags&PR_VNET != 0 {
		return fail(abi.EINVAL, "vnet cannot be changed after creation")
	}
	if flags&JAIL_UPDATE != 0 && chFlags&PR_IP4_USER != 0 {
		return fail(abi.EINVAL, "ip4 cannot be changed after creation")
	}
	if flags&JAIL_UPDATE != 0 && chFlags&PR_IP6_USER != 0 {
		return fail(abi.EINVAL, "ip6 cannot be changed after creation")
	}
	var prAllow, chAllow uint32
	for _, e := range h.table {
		if opts.flag(e.param) {
			prAllow |= e.bit
		}
		if opts.flag(e.noname) {
			chAllow |= e.bit
		}
	}
	chAllow |= prAllow
	// Step 9: names.
	name, gotname, err := opts.getStr("name", MAXHOSTNAMELEN)
	if err != nil {
		return 0, "", err
	}
	hostStr := map[string]*string{}
	for _, hn := range []struct {
		n   string
		max int
	}{{"host.hostname", MAXHOSTNAMELEN}, {"host.domainname", MAXHOSTNAMELEN}, {"host.hostuuid", HOSTUUIDLEN}} {
		s, ok, err := opts.getStr(hn.n, hn.max)
		if ok || err != nil {
			chFlags |= PR_HOST
			prFlags |= PR_HOST
		}
		if err != nil {
			return 0, "", err
		}
		if ok {
			s := s
			hostStr[hn.n] = &s
		}
	}
	var hid uint64
	gothid := false
	if o := opts.get("host.hostid"); o != nil {
		if len(o.value) != 8 {
			return fail(abi.EINVAL, "")
		}
		hid, gothid = binary.LittleEndian.Uint64(o.value), true
		chFlags |= PR_HOST
		prFlags |= PR_HOST
	}
	// Step 10: address lists.
	var ip4, ip6 []byte
	for _, af := range []struct {
		name string
		size int
		flag uint32
		dst  *[]byte
	}{{"ip4.addr", 4, PR_IP4_USER, &ip4}, {"ip6.addr", 16, PR_IP6_USER, &ip6}} {
		o := opts.get(af.name)
		if o == nil {
			continue
		}
		if len(o.value)%af.size != 0 {
			return fail(abi.EINVAL, "")
		}
		chFlags |= af.flag
		prFlags |= af.flag
		n := len(o.value) / af.size
		if n > JAIL_MAX_AF_IPS {
			return fail(abi.EINVAL, "too many %s addresses", map[int]string{4: "IPv4", 16: "IPv6"}[af.size])
		}
		if n > 0 {
			if !validIPs(o.value, af.size) {
				return fail(abi.EINVAL, "")
			}
			*af.dst = append([]byte(nil), o.value...)
		}
	}
	if chFlags&PR_VNET != 0 && chFlags&(PR_IP4_USER|PR_IP6_USER) != 0 {
		return fail(abi.EINVAL, "vnet jails cannot have IP address restrictions")
	}
	// Step 11: creation-only strings.
	osrel, gotosrel := "", false
	if o := opts.get("osrelease"); o != nil {
		if flags&JAIL_UPDATE != 0 {
			return fail(abi.EINVAL, "osrelease cannot be changed after creation")
		}
		if len(o.value) == 0 || o.value[len(o.value)-1] != 0 {
			return fail(abi.EINVAL, "")
		}
		if len(o.value) >= OSRELEASELEN {
			return fail(abi.ENAMETOOLONG, "osrelease string must be 1-%d bytes long", OSRELEASELEN-1)
		}
		osrel, gotosrel = cstr(o.value), true
	}
	osreldt, gotosreldt, err := opts.copyInt("osreldate")
	if err != nil {
		return 0, "", err
	}
	if gotosreldt {
		if flags&JAIL_UPDATE != 0 {
			return fail(abi.EINVAL, "osreldate cannot be changed after creation")
		}
		if osreldt == 0 {
			return fail(abi.EINVAL, "osreldate cannot be 0")
		}
	}
	path, gotpath := "", false
	if o := opts.get("path"); o != nil {
		if flags&JAIL_UPDATE != 0 {
			return fail(abi.EINVAL, "path cannot be changed after creation")
		}
		if len(o.value) == 0 || o.value[len(o.value)-1] != 0 {
			return fail(abi.EINVAL, "")
		}
		if len(o.value) > MAXPATHLEN {
			return fail(abi.ENAMETOOLONG, "")
		}
		path, gotpath = cleanPath(mypr.path, cstr(o.value)), true
	}

	// Find the jail, or at least its parent (steps 12–14).
	var pr, deadpr *Prison
	if cuflags == JAIL_CREATE && jid == 0 && gotname {
		last := name
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			last = name[i+1:]
		}
		// strtoul: "-5" converts too, and comes out negative as an int.
		neg := strings.HasPrefix(last, "-")
		if n, err := strconv.ParseUint(strings.TrimPrefix(last, "-"), 10, 64); err == nil && n <= 1<<31-1 {
			jid = int(n)
			if neg {
				jid = -jid
			}
		}
	}
	ppr := mypr
	if ppr.state != PRISON_STATE_ALIVE {
		return fail(abi.EAGAIN, "")
	}
	if jid != 0 {
		if jid < 0 {
			return fail(abi.EINVAL, "negative jid")
		}
		if q := h.byID[jid]; q != nil {
			if q.state == PRISON_STATE_ALIVE {
				pr = q
			} else {
				deadpr = q
			}
		}
		if cuflags == JAIL_CREATE && pr != nil {
			// Even creators that cannot see the jail get EEXIST.
			return fail(abi.EEXIST, "jail %d already exists", jid)
		}
		if (pr == nil && cuflags == JAIL_UPDATE) || (pr != nil && !isChild(mypr, pr)) {
			return fail(abi.ENOENT, "jail %d not found", jid)
		}
		if pr != nil {
			ppr = pr.Parent
		}
	}
	namelc, gotnamelc := "", false
	if gotname {
		namelc, gotnamelc = name, true
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			prefix := name[:i]
			if pr != nil {
				if prefix != relName(mypr, ppr) || ppr == mypr {
					return fail(abi.EINVAL, "cannot change jail's parent")
				}
			} else {
				ppr = h.findName(mypr, prefix)
				if ppr == nil {
					return fail(abi.ENOENT, "jail \"%s\" not found", prefix)
				}
				if ppr.state != PRISON_STATE_ALIVE {
					return fail(abi.ENOENT, "jail \"%s\" is dying", prefix)
				}
			}
			namelc = name[i+1:]
		} else if pr != nil && ppr != mypr {
			// An undotted name is relative to the caller: the jail
			// would move under it.
			return fail(abi.EINVAL, "cannot change jail's parent")
		}
		if namelc != "" {
			for _, t := range ppr.kids {
				if t == pr || t.state != PRISON_STATE_ALIVE || lastComponent(t.Name) != namelc {
					continue
				}
				if cuflags == JAIL_CREATE || pr != nil {
					return fail(abi.EEXIST, "jail \"%s\" already exists", name)
				}
				pr = t
				break
			}
			if pr == nil && cuflags == JAIL_UPDATE {
				return fail(abi.ENOENT, "jail \"%s\" not found", name)
			}
		}
	}
	if cuflags == JAIL_UPDATE && pr == nil {
		return fail(abi.ENOENT, "update specified no jail")
	}

	created := pr == nil
	if created {
		// Step 15.
		for t := mypr; t != nil; t = t.Parent {
			if t.childCount >= t.childMax {
				return fail(abi.EPERM, "prison limit exceeded")
			}
		}
		if deadpr != nil {
			if h.nextDeadidAvailable() == 0 {
				return fail(abi.EAGAIN, "no available jail IDs")
			}
		} else if jid == 0 {
			if h.peekPrid() == 0 {
				return fail(abi.EAGAIN, "no available jail IDs")
			}
		}
	} else {
		if pr.flags&PR_VNET != 0 && chFlags&(PR_IP4_USER|PR_IP6_USER) != 0 {
			return fail(abi.EINVAL, "vnet jails cannot have IP address restrictions")
		}
		if PR_IP4_USER&chFlags&(prFlags^pr.flags) != 0 {
			return fail(abi.EINVAL, "ip4 cannot be changed after creation")
		}
		if PR_IP6_USER&chFlags&(prFlags^pr.flags) != 0 {
			return fail(abi.EINVAL, "ip6 cannot be changed after creation")
		}
	}

	// Step 16: final checks against the parent.
	if gotslevel && slevel < ppr.securelevel {
		return fail(abi.EPERM, "")
	}
	if gotchildmax && childmax >= ppr.childMax {
		return fail(abi.EPERM, "")
	}
	if gotenforce && enforce < ppr.enforceStatfs {
		return fail(abi.EPERM, "")
	}
	if gotrsnum {
		if rsnum < 0 || rsnum > 65535 {
			return fail(abi.EINVAL, "")
		}
		if cred.Jailed() {
			if rsnum > 0 && rsnum != ppr.devfsRuleset {
				return fail(abi.EPERM, "")
			}
			rsnum = ppr.devfsRuleset
		}
	}
	for _, af := range []struct {
		addrs  []byte
		size   int
		pflag  uint32
		paddrs []byte
		what   string
	}{{ip4, 4, PR_IP4, ppr.ip4, "IPv4"}, {ip6, 16, PR_IP6, ppr.ip6, "IPv6"}} {
		if len(af.addrs) == 0 {
			continue
		}
		if ppr.flags&af.pflag != 0 && !ipSubset(af.addrs, af.paddrs, af.size) {
			return fail(abi.EPERM, "")
		}
		if h.ipClash(ppr, pr, af.addrs, af.size) {
			return fail(abi.EADDRINUSE, "%s addresses clash", af.what)
		}
	}
	// The jid a create will get, for the default name and the numeric
	// name rule.
	newjid := jid
	if created && jid == 0 {
		newjid = h.peekPrid()
	} else if !created {
		newjid = pr.ID
	}
	if gotnamelc {
		if namelc == "" {
			namelc = strconv.Itoa(newjid)
		} else if isDigits(namelc) && (namelc[0] < '1' || namelc[0] > '9' || namelc != strconv.Itoa(newjid)) {
			return fail(abi.EINVAL, "name cannot be numeric (unless it is the jid)")
		}
		pnamelen := 0
		if ppr.ID != 0 {
			pnamelen = len(ppr.Name) + 1
		}
		onamelen := 0
		if pr != nil {
			onamelen = len(pr.Name) - pnamelen
		}
		if pnamelen+len(namelc)+1 > MAXHOSTNAMELEN {
			return fail(abi.ENAMETOOLONG, "")
		}
		if pr != nil {
			bad := false
			walkDesc(pr, func(t *Prison) {
				if len(t.Name)+len(namelc)-onamelen >= MAXHOSTNAMELEN {
					bad = true
				}
			})
			if bad {
				return fail(abi.ENAMETOOLONG, "")
			}
		}
	}
	if prAllow&^ppr.allow&^PR_ALLOW_DIFFERENCES != 0 {
		return fail(abi.EPERM, "")
	}
	// Step 17: everything must have been consumed.
	for _, o := range opts {
		if !o.seen {
			return fail(abi.EINVAL, "unknown parameter: %s", o.name)
		}
	}

	// Step 18: apply.
	if created {
		if deadpr != nil {
			h.unlinkLocked(deadpr)
			deadpr.ID = h.nextDeadid()
			h.insertLocked(deadpr)
		}
		if jid == 0 {
			jid = h.nextPrid()
		}
		pr = &Prison{
			ID: jid, Parent: ppr, host: h,
			state:         PRISON_STATE_INVALID,
			flags:         PR_HOST,
			securelevel:   ppr.securelevel,
			allow:         JAIL_DEFAULT_ALLOW & ppr.allow,
			enforceStatfs: JAIL_DEFAULT_ENFORCE_STATFS,
			devfsRuleset:  ppr.devfsRuleset,
			hostuuid:      "00000000-0000-0000-0000-000000000000",
			path:          mypr.path,
			osreldate:     ppr.osreldate,
			osrelease:     ppr.osrelease,
		}
		if jid == 0 || h.byID[jid] != nil {
			return fail(abi.EAGAIN, "no available jail IDs")
		}
		if pr.enforceStatfs < ppr.enforceStatfs {
			pr.enforceStatfs = ppr.enforceStatfs
		}
		if gotosreldt {
			pr.osreldate = osreldt
		}
		if gotosrel {
			pr.osrelease = osrel
		}
		if prFlags&PR_VNET == 0 {
			if chFlags&PR_IP4_USER == 0 {
				pr.flags |= PR_IP4 | PR_IP4_USER
			} else if prFlags&PR_IP4_USER == 0 {
				pr.flags |= ppr.flags & PR_IP4
				pr.ip4 = append([]byte(nil), ppr.ip4...)
			}
			if chFlags&PR_IP6_USER == 0 {
				pr.flags |= PR_IP6 | PR_IP6_USER
			} else if prFlags&PR_IP6_USER == 0 {
				pr.flags |= ppr.flags & PR_IP6
				pr.ip6 = append([]byte(nil), ppr.ip6...)
			}
		}
		pr.Name = qualify(ppr, strconv.Itoa(jid))
		h.insertLocked(pr)
		ppr.kids = append(ppr.kids, pr)
		ppr.uref++ // prison_proc_hold(ppr): a child keeps its parent alive
		for t := ppr; t != nil; t = t.Parent {
			t.childCount++
		}
	}
	if prFlags&PR_IP4_USER != 0 {
		pr.flags |= PR_IP4
		pr.ip4 = ip4
	}
	if prFlags&PR_IP6_USER != 0 {
		pr.flags |= PR_IP6
		pr.ip6 = ip6
	}
	if gotslevel {
		pr.securelevel = slevel
		walkDesc(pr, func(t *Prison) {
			if t.securelevel < slevel {
				t.securelevel = slevel
			}
		})
	}
	if gotchildmax {
		pr.childMax = childmax
		walkDescLevel(pr, 1, func(t *Prison, level int) {
			if t.childMax > childmax-level {
				t.childMax = max(childmax-level, 0)
			}
		})
	}
	if gotenforce {
		pr.enforceStatfs = enforce
		walkDesc(pr, func(t *Prison) {
			if t.enforceStatfs < enforce {
				t.enforceStatfs = enforce
			}
		})
	}
	if gotrsnum {
		pr.devfsRuleset = rsnum
		walkDesc(pr, func(t *Prison) { t.devfsRuleset = rsnum })
	}
	if gotnamelc {
		old := pr.Name
		pr.Name = qualify(ppr, namelc)
		walkDesc(pr, func(t *Prison) { t.Name = pr.Name + t.Name[len(old):] })
	}
	if gotpath {
		pr.path = path
	}
	if PR_HOST&chFlags&^prFlags != 0 {
		pr.hostname, pr.domainname = ppr.hostname, ppr.domainname
		pr.hostuuid, pr.hostid = ppr.hostuuid, ppr.hostid
	} else if len(hostStr) > 0 || gothid {
		set := func(t *Prison) {
			if s := hostStr["host.hostname"]; s != nil {
				t.hostname = *s
			}
			if s := hostStr["host.domainname"]; s != nil {
				t.domainname = *s
			}
			if s := hostStr["host.hostuuid"]; s != nil {
				t.hostuuid = *s
			}
			if gothid {
				t.hostid = hid
			}
		}
		set(pr)
		var inherit func(*Prison)
		inherit = func(q *Prison) {
			for _, k := range q.kids {
				if k.flags&PR_HOST == 0 {
					set(k)
					inherit(k)
				}
			}
		}
		inherit(pr)
	}
	pr.allow = pr.allow&^chAllow | prAllow
	if t := chAllow &^ prAllow; t != 0 {
		clearDown(pr, t)
	}
	persistChange := chFlags & PR_PERSIST & (prFlags ^ pr.flags)
	pr.flags = pr.flags&^chFlags | prFlags
	if created {
		pr.state = PRISON_STATE_ALIVE
	}
	if persistChange != 0 && prFlags&PR_PERSIST != 0 {
		pr.uref++
	}
	if flags&JAIL_ATTACH != 0 {
		h.moveLocked(cred, pr)
	}
	if persistChange != 0 && prFlags&PR_PERSIST == 0 {
		// The user reference persist held goes after a possible
		// attach has added the process's own.
		h.urefDropLocked(pr)
	}
	if created && pr.uref == 0 {
		// Created with attach but by a credential without a process:
		// nothing holds it, so it is dying at once.
		pr.state = PRISON_STATE_DYING
		h.maybeFreeLocked(pr)
	}
	return pr.ID, "", nil
}

func (h *Host) peekPrid() int {
	save := h.lastprid
	id := h.nextPrid()
	h.lastprid = save
	return id
}

func (h *Host) nextDeadidAvailable() int {
	save := h.lastdeadid
	id := h.nextDeadid()
	h.lastdeadid = save
	return id
}

func walkDesc(p *Prison, f func(*Prison)) {
	for _, k := range p.kids {
		f(k)
		walkDesc(k, f)
	}
}

func walkDescLevel(p *Prison, level int, f func(*Prison, int)) {
	for _, k := range p.kids {
		f(k, level)
		walkDescLevel(k, level+1, f)
	}
}

func lastComponent(name string) string {
	return name[strings.LastIndexByte(name, '.')+1:]
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func cstr(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// cleanPath makes a jail path global: a jailed creator's path is under
// its own root (vn_path_to_global_path).
func cleanPath(root, p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	if root == "/" {
		return p
	}
	if p == "/" {
		return root
	}
	return root + p
}

// validIPs is prison_ip_copyin's check: no unspecified or broadcast
// address, no duplicates.
func validIPs(b []byte, size int) bool {
	n := len(b) / size
	for i := 0; i < n; i++ {
		a := b[i*size : (i+1)*size]
		zero, ones := true, true
		for _, c := range a {
			zero = zero && c == 0
			ones = ones && c == 0xff
		}
		if zero || (size == 4 && ones) {
			return false
		}
		for j := 0; j < i; j++ {
			if string(a) == string(b[j*size:(j+1)*size]) {
				return false
			}
		}
	}
	return true
}

func ipSubset(sub, sup []byte, size int) bool {
	for i := 0; i < len(sub); i += size {
		found := false
		for j := 0; j < len(sup); j += size {
			if string(sub[i:i+size]) == string(sup[j:j+size]) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// ipClash is prison_ip_conflict_check: another live jail in the same
// vnet holding one of these addresses clashes, unless both hold a single
// address.
func (h *Host) ipClash(ppr, pr *Prison, addrs []byte, size int) bool {
	top := ppr
	for top.ID != 0 && top.flags&PR_VNET == 0 {
		top = top.Parent
	}
	n := len(addrs) / size
	clash := false
	var walk func(*Prison)
	walk = func(q *Prison) {
		for _, t := range q.kids {
			if clash || t == pr || t.flags&PR_VNET != 0 || t.state != PRISON_STATE_ALIVE {
				continue
			}
			flag, list := uint32(PR_IP4), t.ip4
			if size == 16 {
				flag, list = PR_IP6, t.ip6
			}
			if t.flags&flag == 0 || len(list) == 0 {
				walk(t)
				continue
			}
			if n == 1 && len(list) == size {
				continue
			}
			for i := 0; i < len(addrs); i += size {
				if ipSubset(addrs[i:i+size], list, size) {
					clash = true
				}
			}
		}
	}
	walk(top)
	return clash
}

// JailGet is jail_get(2): find a jail by lastjid, jid or name (in that
// order) among the caller's descendants and fill in every parameter of
// the request. No privilege is needed (§1.8).
func (h *Host) JailGet(cred *Ucred, params []Param, flags int) (int, Params, error) {
	jid, out, _, err := h.JailGetIov(cred, toIov(params), flags)
	if err != nil {
		return 0, nil, err
	}
	ps := make(Params, 0, len(out)/2)
	for i := 0; i+1 < len(out); i += 2 {
		ps = append(ps, Param{cstr(out[i]), out[i+1]})
	}
	return jid, ps, nil
}

// JailGetIov is jail_get(2) on raw iovecs; it returns the iovecs with
// the values filled in, and the errmsg text on error.
func (h *Host) JailGetIov(cred *Ucred, iov [][]byte, flags int) (int, [][]byte, string, error) {
	if len(iov)&1 != 0 {
		return 0, nil, "", abi.EINVAL
	}
	if flags&^JAIL_GET_MASK != 0 {
		return 0, nil, "", abi.EINVAL
	}
	opts, err := buildOpts(iov)
	if err != nil {
		return 0, nil, "", err
	}
	opts.get("errmsg")
	h.mu.Lock()
	defer h.mu.Unlock()
	mypr := cred.Prison
	visible := func(p *Prison) bool { return flags&JAIL_DYING != 0 || p.state == PRISON_STATE_ALIVE }
	var pr *Prison
	if last, ok, err := opts.copyInt("lastjid"); err != nil {
		return 0, nil, "", err
	} else if ok {
		for _, p := range h.all {
			if p.ID > last && visible(p) && isChild(mypr, p) {
				pr = p
				break
			}
		}
		if pr == nil {
			return 0, nil, fmt.Sprintf("no jail after %d", last), abi.ENOENT
		}
	}
	if pr == nil {
		jid, ok, err := opts.copyInt("jid")
		if err != nil {
			return 0, nil, "", err
		}
		if ok && jid != 0 {
			pr = h.findChild(mypr, jid)
			if pr == nil {
				return 0, nil, fmt.Sprintf("jail %d not found", jid), abi.ENOENT
			}
			if !visible(pr) {
				return 0, nil, fmt.Sprintf("jail %d is dying", jid), abi.ENOENT
			}
		}
	}
	if pr == nil {
		if o := opts.get("name"); o != nil {
			if len(o.value) == 0 || o.value[len(o.value)-1] != 0 {
				return 0, nil, "", abi.EINVAL
			}
			name := cstr(o.value)
			pr = h.findName(mypr, name)
			if pr == nil {
				return 0, nil, fmt.Sprintf("jail \"%s\" not found", name), abi.ENOENT
			}
			if !visible(pr) {
				return 0, nil, fmt.Sprintf("jail \"%s\" is dying", name), abi.ENOENT
			}
		} else {
			return 0, nil, "no jail specified", abi.ENOENT
		}
	}
	vals := h.paramValues(mypr, pr)
	out := make([][]byte, len(iov))
	copy(out, iov)
	for _, o := range opts {
		v, ok := vals[o.name]
		if !ok {
			if o.name == "lastjid" || o.name == "errmsg" {
				continue
			}
			return 0, nil, fmt.Sprintf("unknown parameter: %s", o.name), abi.EINVAL
		}
		o.seen = true
		if o.value != nil && len(o.value) != len(v) && !isStringParam(o.name) {
			return 0, nil, "", abi.EINVAL
		}
		out[2*o.pos+1] = v
	}
	return pr.ID, out, "", nil
}

func isStringParam(name string) bool {
	switch name {
	case "name", "path", "host.hostname", "host.domainname", "host.hostuuid", "osrelease", "ip4.addr", "ip6.addr":
		return true
	}
	return false
}

// paramValues is every parameter jail_get can report for pr, as seen
// from mypr.
func (h *Host) paramValues(mypr, pr *Prison) map[string][]byte {
	v := map[string][]byte{}
	i := func(name string, n int) { v[name] = IntParam(name, n).Value }
	s := func(name, str string) { v[name] = StrParam(name, str).Value }
	b := func(name string, on bool) {
		n := 0
		if on {
			n = 1
		}
		i(name, n)
		i(noName(name), 1-n)
	}
	i("jid", pr.ID)
	parent := pr.Parent.ID
	if pr.Parent == mypr {
		parent = 0
	}
	i("parent", parent)
	s("name", relName(mypr, pr))
	s("path", relPath(mypr, pr))
	v["ip4.addr"] = append([]byte{}, pr.ip4...)
	v["ip6.addr"] = append([]byte{}, pr.ip6...)
	i("securelevel", pr.securelevel)
	i("children.cur", pr.childCount)
	i("children.max", pr.childMax)
	s("host.hostname", pr.hostname)
	s("host.domainname", pr.domainname)
	s("host.hostuuid", pr.hostuuid)
	hid := make([]byte, 8)
	binary.LittleEndian.PutUint64(hid, pr.hostid)
	v["host.hostid"] = hid
	i("enforce_statfs", pr.enforceStatfs)
	i("devfs_ruleset", pr.devfsRuleset)
	b("persist", pr.flags&PR_PERSIST != 0)
	for _, js := range jailsysFlags {
		f := pr.flags & (js.disable | js.new)
		n := JAIL_SYS_INHERIT
		if f != 0 && f == js.disable {
			n = JAIL_SYS_DISABLE
		} else if f == js.new {
			n = JAIL_SYS_NEW
		}
		i(js.name, n)
	}
	for _, e := range h.table {
		b(e.param, pr.allow&e.bit != 0)
	}
	b("dying", pr.state != PRISON_STATE_ALIVE)
	i("osreldate", pr.osreldate)
	s("osrelease", pr.osrelease)
	return v
}

// JailRemove is jail_remove(2): the jail must be a descendant of the
// caller's prison (EINVAL otherwise, even for one's own jail); a dying
// jail is silently accepted; otherwise the jail and every descendant
// lose persist, become dying and have their processes killed (§1.4,
// §1.8).
func (h *Host) JailRemove(cred *Ucred, jid int) error {
	if err := PrivCheck(cred, PRIV_JAIL_REMOVE); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	pr := h.findChild(cred.Prison, jid)
	if pr == nil {
		return abi.EINVAL
	}
	if pr.state != PRISON_STATE_ALIVE {
		return nil
	}
	h.killLocked(pr)
	return nil
}

// JailAttach is jail_attach(2): the target must be a live descendant of
// the caller's prison (EINVAL otherwise). It returns the new credential
// (cr_prison = the jail); the caller's process, if cred has one, moves
// with it. Open descriptors are not the jail's business: they stay.
func (h *Host) JailAttach(cred *Ucred, jid int) (*Ucred, error) {
	if err := PrivCheck(cred, PRIV_JAIL_ATTACH); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	pr := h.findChild(cred.Prison, jid)
	if pr == nil || pr.state != PRISON_STATE_ALIVE {
		return nil, abi.EINVAL
	}
	return h.moveLocked(cred, pr), nil
}
