package jail

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParamType is the type libjail learns from security.jail.param.<name>.
type ParamType int

const (
	TypeInt ParamType = iota
	TypeBool
	TypeString
	TypeJailsys
	TypeUlong
	TypeIP4
	TypeIP6
)

// paramInfo is one security.jail.param node: the type, whether it may
// only be set at creation (CTLFLAG_RDTUN), whether it is read-only.
type paramInfo struct {
	typ      ParamType
	rdtun    bool
	readonly bool
}

var kernelParams = map[string]paramInfo{
	"jid":             {TypeInt, true, false},
	"parent":          {TypeInt, false, true},
	"name":            {TypeString, false, false},
	"path":            {TypeString, true, false},
	"securelevel":     {TypeInt, false, false},
	"enforce_statfs":  {TypeInt, false, false},
	"devfs_ruleset":   {TypeInt, false, false},
	"children.max":    {TypeInt, false, false},
	"children.cur":    {TypeInt, false, true},
	"persist":         {TypeBool, false, false},
	"dying":           {TypeBool, false, true},
	"host":            {TypeJailsys, false, false},
	"host.hostname":   {TypeString, false, false},
	"host.domainname": {TypeString, false, false},
	"host.hostuuid":   {TypeString, false, false},
	"host.hostid":     {TypeUlong, false, false},
	"vnet":            {TypeJailsys, true, false},
	"ip4":             {TypeJailsys, true, false},
	"ip6":             {TypeJailsys, true, false},
	"ip4.addr":        {TypeIP4, false, false},
	"ip6.addr":        {TypeIP6, false, false},
	"osrelease":       {TypeString, true, false},
	"osreldate":       {TypeInt, true, false},
}

// pseudoParams are jail(8)'s own parameters, never sent to the kernel
// (§2.2). The boolean ones accept the no-prefix.
var pseudoParams = map[string]bool{
	"exec.prestart": false, "exec.created": false, "exec.start": false, "command": false,
	"exec.poststart": false, "exec.prestop": false, "exec.stop": false, "exec.poststop": false,
	"exec.clean": true, "exec.jail_user": false, "exec.system_jail_user": true,
	"exec.system_user": false, "exec.timeout": false, "exec.consolelog": false,
	"exec.fib": false, "stop.timeout": false, "interface": false, "vnet.interface": false,
	"ip_hostname": true, "mount": false, "mount.fstab": false, "mount.devfs": true,
	"mount.fdescfs": true, "mount.procfs": true, "allow.dying": true, "depend": false,
	"zfs.dataset": false,
}

// lookupParam finds a kernel parameter, registered allow flags included.
// It returns the canonical (positive) name and whether the spelling was
// the "no" form of a boolean.
func (h *Host) lookupParam(name string) (canon string, info paramInfo, neg bool, err error) {
	if pi, ok := h.paramInfo(name); ok {
		return name, pi, false, nil
	}
	i := strings.LastIndexByte(name, '.')
	last := name[i+1:]
	if strings.HasPrefix(last, "no") {
		pos := name[:i+1] + last[2:]
		if pi, ok := h.paramInfo(pos); ok {
			if pi.typ != TypeBool {
				return "", pi, false, fmt.Errorf("%s: mismatched boolean", name)
			}
			return pos, pi, true, nil
		}
	}
	return "", paramInfo{}, false, fmt.Errorf("unknown parameter: %s", name)
}

func (h *Host) paramInfo(name string) (paramInfo, bool) {
	if pi, ok := kernelParams[name]; ok {
		return pi, true
	}
	if strings.HasPrefix(name, "allow.") {
		if _, ok := h.AllowBit(strings.TrimPrefix(name, "allow.")); ok {
			return paramInfo{typ: TypeBool}, true
		}
	}
	return paramInfo{}, false
}

// IsPseudoParam reports whether name (or its "no" form) is one of
// jail(8)'s pseudo-parameters.
func IsPseudoParam(name string) bool {
	if _, ok := pseudoParams[name]; ok {
		return true
	}
	i := strings.LastIndexByte(name, '.')
	last := name[i+1:]
	if strings.HasPrefix(last, "no") {
		b, ok := pseudoParams[name[:i+1]+last[2:]]
		return ok && b
	}
	return false
}

// parseBool is libjail's boolean: true/false in any case or an integer.
func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "", "true":
		return true, nil
	case "false":
		return false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return false, fmt.Errorf("%s: unknown boolean value \"%s\"", name, v)
	}
	return n != 0, nil
}

// ImportParam is jailparam_import followed by jailparam_set's encoding:
// it turns one jail(8) parameter (name and its values; a bare boolean
// has none) into the kernel's (name, value) pair. A boolean set false
// goes out under its "no" name, as libjail sends it. Unknown names fail
// with "unknown parameter: NAME" — allow.vmm among them until vmm has
// registered it (§1.6, §2.2).
func (h *Host) ImportParam(name string, values []string) (Param, error) {
	canon, info, neg, err := h.lookupParam(name)
	if err != nil {
		return Param{}, err
	}
	if info.readonly {
		return Param{}, fmt.Errorf("%s: parameter is read-only", name)
	}
	one := func() (string, error) {
		switch len(values) {
		case 0:
			return "", nil
		case 1:
			return values[0], nil
		}
		return "", fmt.Errorf("%s: cannot have a list of values", name)
	}
	switch info.typ {
	case TypeBool:
		v, err := one()
		if err != nil {
			return Param{}, err
		}
		on, err := parseBool(name, v)
		if err != nil {
			return Param{}, err
		}
		if neg {
			on = !on
		}
		if !on {
			return BoolParam(noName(canon)), nil
		}
		return BoolParam(canon), nil
	case TypeInt:
		v, err := one()
		if err != nil {
			return Param{}, err
		}
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return Param{}, fmt.Errorf("%s: non-integer value \"%s\"", name, v)
		}
		return IntParam(canon, int(n)), nil
	case TypeUlong:
		v, err := one()
		if err != nil {
			return Param{}, err
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return Param{}, fmt.Errorf("%s: non-integer value \"%s\"", name, v)
		}
		b := make([]byte, 8)
		binary.LittleEndian.PutUint64(b, n)
		return Param{canon, b}, nil
	case TypeJailsys:
		v, err := one()
		if err != nil {
			return Param{}, err
		}
		switch strings.ToLower(v) {
		case "", "new":
			return IntParam(canon, JAIL_SYS_NEW), nil
		case "inherit":
			return IntParam(canon, JAIL_SYS_INHERIT), nil
		case "disable":
			return IntParam(canon, JAIL_SYS_DISABLE), nil
		}
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return Param{}, fmt.Errorf("%s: unknown value \"%s\"", name, v)
		}
		return IntParam(canon, int(n)), nil
	case TypeString:
		v, err := one()
		if err != nil {
			return Param{}, err
		}
		return StrParam(canon, v), nil
	case TypeIP4, TypeIP6:
		var b []byte
		for _, v := range splitList(values) {
			a, err := netip.ParseAddr(stripIPDecor(v))
			if err != nil || (info.typ == TypeIP4) != a.Is4() {
				fam := "IPv4"
				if info.typ == TypeIP6 {
					fam = "IPv6"
				}
				return Param{}, fmt.Errorf("%s: not an %s address: %s", name, fam, v)
			}
			b = append(b, a.AsSlice()...)
		}
		if b == nil {
			b = []byte{}
		}
		return Param{canon, b}, nil
	}
	return Param{}, fmt.Errorf("unknown parameter: %s", name)
}

// splitList flattens values and their comma-separated parts.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// stripIPDecor drops jail(8)'s interface and netmask decorations:
// "em0|192.0.2.1/24" → "192.0.2.1".
func stripIPDecor(v string) string {
	if i := strings.IndexByte(v, '|'); i >= 0 {
		v = v[i+1:]
	}
	if i := strings.IndexByte(v, '/'); i >= 0 {
		v = v[:i]
	}
	if i := strings.IndexByte(v, ' '); i >= 0 {
		v = v[:i]
	}
	return v
}

// ParseParamArg splits one command-line argument "name=value" or a bare
// boolean "name" (jail(8) syntax, §2.2). Lists stay comma-separated in
// the single value.
func ParseParamArg(arg string) (name string, values []string) {
	if i := strings.IndexByte(arg, '='); i >= 0 {
		return arg[:i], []string{arg[i+1:]}
	}
	return arg, nil
}

// FormatParam renders a jail_get value the way jls -n does: booleans as
// bare name or noname, jailsys as inherit/new/disable, addresses
// comma-separated.
func (h *Host) FormatParam(p Param) (string, error) {
	canon, info, _, err := h.lookupParam(p.Name)
	if err != nil {
		return "", err
	}
	ps := Params{p}
	switch info.typ {
	case TypeBool:
		on, _ := ps.Bool(p.Name)
		if p.Name != canon {
			on = !on
		}
		if on {
			return canon, nil
		}
		return noName(canon), nil
	case TypeInt:
		n, _ := ps.Int(p.Name)
		return p.Name + "=" + strconv.Itoa(n), nil
	case TypeUlong:
		if len(p.Value) != 8 {
			return "", fmt.Errorf("%s: bad value", p.Name)
		}
		return p.Name + "=" + strconv.FormatUint(binary.LittleEndian.Uint64(p.Value), 10), nil
	case TypeJailsys:
		n, _ := ps.Int(p.Name)
		return p.Name + "=" + [...]string{"disable", "new", "inherit"}[n%3], nil
	case TypeString:
		s, _ := ps.Str(p.Name)
		return p.Name + "=" + s, nil
	case TypeIP4, TypeIP6:
		size := 4
		if info.typ == TypeIP6 {
			size = 16
		}
		var parts []string
		for i := 0; i+size <= len(p.Value); i += size {
			a, _ := netip.AddrFromSlice(p.Value[i : i+size])
			parts = append(parts, a.String())
		}
		return p.Name + "=" + strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("unknown parameter: %s", p.Name)
}
