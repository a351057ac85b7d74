package jail

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"softvmm/emu/abi"
)

// DevfsAction is what a devfs rule does to the nodes it matches.
type DevfsAction int

const (
	DevfsHide DevfsAction = iota
	DevfsUnhide
	DevfsInclude
)

// DevfsRule is one `add [path 'glob'] hide|unhide` or `add include
// $set` line of a devfs ruleset (§1.11). An empty Path matches every
// node. Globs are fnmatch(3) with FNM_PATHNAME: '*' does not cross '/'.
type DevfsRule struct {
	Path    string
	Action  DevfsAction
	Include int // ruleset number, for DevfsInclude
}

// Stock ruleset numbers of /etc/defaults/devfs.rules.
const (
	DevfsrulesHideAll      = 1
	DevfsrulesUnhideBasic  = 2
	DevfsrulesUnhideLogin  = 3
	DevfsrulesJail         = 4
	DevfsrulesJailVnet     = 5
	devfsRulesetMax        = 65535
	devfsIncludeDepthLimit = 16
)

// DevfsSetRuleset replaces ruleset n (1..65535) with rules, as `devfs
// ruleset n; devfs rule delset; devfs rule add ...` does. Rules cannot
// be changed from inside a jail (PRIV_DEVFS_RULE: EPERM); n outside the
// range is EINVAL.
func (h *Host) DevfsSetRuleset(cred *Ucred, n int, rules ...DevfsRule) error {
	if err := PrivCheck(cred, PRIV_DEVFS_RULE); err != nil {
		return err
	}
	if n < 1 || n > devfsRulesetMax {
		return abi.EINVAL
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.devfs == nil {
		h.devfs = map[int][]DevfsRule{}
	}
	h.devfs[n] = append([]DevfsRule(nil), rules...)
	return nil
}

// InstallStockDevfsRules loads rulesets 1–5 of FreeBSD's
// /etc/defaults/devfs.rules: hide everything, unhide the basics and the
// login devices, and the jail sets that combine them.
func (h *Host) InstallStockDevfsRules() {
	root := h.RootCred()
	u := func(p string) DevfsRule { return DevfsRule{Path: p, Action: DevfsUnhide} }
	inc := func(n int) DevfsRule { return DevfsRule{Action: DevfsInclude, Include: n} }
	h.DevfsSetRuleset(root, DevfsrulesHideAll, DevfsRule{Action: DevfsHide})
	h.DevfsSetRuleset(root, DevfsrulesUnhideBasic,
		u("log"), u("null"), u("zero"), u("crypto"), u("random"), u("urandom"))
	h.DevfsSetRuleset(root, DevfsrulesUnhideLogin,
		u("pts"), u("pts/*"), u("fd"), u("fd/*"), u("stdin"), u("stdout"), u("stderr"))
	h.DevfsSetRuleset(root, DevfsrulesJail,
		inc(DevfsrulesHideAll), inc(DevfsrulesUnhideBasic), inc(DevfsrulesUnhideLogin),
		u("fuse"), u("zfs"))
	h.DevfsSetRuleset(root, DevfsrulesJailVnet, inc(DevfsrulesJail), u("pf"))
}

// rulesetVisible applies ruleset n to one path: rules run in order and
// the last one that matches decides; includes run the named set in
// place. Ruleset 0 (none) hides nothing.
func (h *Host) rulesetVisible(n int, p string, depth int, vis bool) bool {
	if n == 0 || depth > devfsIncludeDepthLimit {
		return vis
	}
	for _, r := range h.devfs[n] {
		switch r.Action {
		case DevfsInclude:
			vis = h.rulesetVisible(r.Include, p, depth+1, vis)
		case DevfsHide, DevfsUnhide:
			if r.Path != "" {
				if ok, err := path.Match(r.Path, p); err != nil || !ok {
					continue
				}
			}
			vis = r.Action == DevfsUnhide
		}
	}
	return vis
}

// DevfsVisible reports whether /dev/<devpath> exists for cred, combining
// the two independent filters of §1.11: the ruleset of the caller's
// jail (devfs_ruleset) must leave the node and every directory above it
// unhidden, and a node created with a credential (nodeCred, si_cred) is
// seen only from the creator's prison or an ancestor of it
// (devfs_prison_check). A nil nodeCred is not filtered. A hidden node
// surfaces as ENOENT to the caller.
func DevfsVisible(cred *Ucred, devpath string, nodeCred *Ucred) bool {
	if cred == nil || cred.Prison == nil {
		return false
	}
	h := cred.Prison.host
	h.mu.Lock()
	defer h.mu.Unlock()
	pr := cred.Prison
	if nodeCred != nil && nodeCred.Prison != pr && !isChild(pr, nodeCred.Prison) {
		return false
	}
	rs := pr.devfsRuleset
	devpath = strings.Trim(devpath, "/")
	parts := strings.Split(devpath, "/")
	for i := range parts {
		if !h.rulesetVisible(rs, strings.Join(parts[:i+1], "/"), 0, true) {
			return false
		}
	}
	return true
}

// PrisonCheck is prison_check(cred1, cred2): ESRCH unless cred2's prison
// is cred1's or below it.
func PrisonCheck(cred1, cred2 *Ucred) error {
	h := cred1.Prison.host
	h.mu.Lock()
	defer h.mu.Unlock()
	if cred1.Prison == cred2.Prison || isChild(cred1.Prison, cred2.Prison) {
		return nil
	}
	return abi.ESRCH
}

// stockRulesetNames are the names /etc/defaults/devfs.rules gives the
// stock rulesets, usable as $name in include lines.
var stockRulesetNames = map[string]int{
	"devfsrules_hide_all":     DevfsrulesHideAll,
	"devfsrules_unhide_basic": DevfsrulesUnhideBasic,
	"devfsrules_unhide_login": DevfsrulesUnhideLogin,
	"devfsrules_jail":         DevfsrulesJail,
	"devfsrules_jail_vnet":    DevfsrulesJailVnet,
}

// LoadDevfsRules reads devfs.rules(5) text — `[name=number]` headers,
// `add [path 'glob'] hide|unhide` and `add include $name` lines, #
// comments — and installs each ruleset, as service devfs does at boot.
// $names refer to rulesets defined earlier in the text or to the stock
// ones. Errors name the line.
func (h *Host) LoadDevfsRules(cred *Ucred, text string) error {
	names := map[string]int{} // looked up, never iterated
	for k, v := range stockRulesetNames {
		names[k] = v
	}
	cur := 0
	var rules []DevfsRule
	flush := func() error {
		if cur == 0 {
			return nil
		}
		return h.DevfsSetRuleset(cred, cur, rules...)
	}
	for i, line := range strings.Split(text, "\n") {
		lineNo := i + 1
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		bad := func(msg string) error { return fmt.Errorf("devfs.rules:%d: %s", lineNo, msg) }
		if strings.HasPrefix(f[0], "[") {
			if err := flush(); err != nil {
				return bad(err.Error())
			}
			hdr := strings.TrimSuffix(strings.TrimPrefix(strings.Join(f, ""), "["), "]")
			name, num, ok := strings.Cut(hdr, "=")
			n, err := strconv.Atoi(num)
			if !ok || err != nil || n < 1 || n > devfsRulesetMax {
				return bad("bad ruleset header")
			}
			names[name], cur, rules = n, n, nil
			continue
		}
		if cur == 0 || f[0] != "add" || len(f) < 2 {
			return bad("expected a [ruleset] header or an add line")
		}
		var r DevfsRule
		rest := f[1:]
		switch {
		case rest[0] == "include" && len(rest) == 2:
			n, ok := names[strings.TrimPrefix(rest[1], "$")]
			if !ok {
				if v, err := strconv.Atoi(rest[1]); err == nil {
					n, ok = v, true
				}
			}
			if !ok {
				return bad("unknown ruleset " + rest[1])
			}
			r = DevfsRule{Action: DevfsInclude, Include: n}
		default:
			if rest[0] == "path" && len(rest) >= 2 {
				r.Path = strings.Trim(rest[1], `'"`)
				rest = rest[2:]
			}
			if len(rest) != 1 || (rest[0] != "hide" && rest[0] != "unhide") {
				return bad("expected hide or unhide")
			}
			if rest[0] == "unhide" {
				r.Action = DevfsUnhide
			}
		}
		rules = append(rules, r)
	}
	return flush()
}
