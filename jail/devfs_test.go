package jail

import (
	"testing"

	"softvmm/emu/abi"
)

// reference §1.11 and §3.5: the ruleset filter and the credential filter
// are independent; tests show each failure mode alone.
func TestDevfsRulesets(t *testing.T) {
	h := NewHost()
	h.InstallStockDevfsRules()
	u := func(p string) DevfsRule { return DevfsRule{Path: p, Action: DevfsUnhide} }
	// §3.5's ruleset for jailed bhyve, as the reference gives it.
	if err := h.LoadDevfsRules(h.RootCred(), bhyveRules); err != nil {
		t.Fatal(err)
	}
	// A ruleset that forgets the directory itself.
	if err := h.DevfsSetRuleset(h.RootCred(), 26,
		DevfsRule{Action: DevfsInclude, Include: DevfsrulesJail}, u("vmm/*")); err != nil {
		t.Fatal(err)
	}
	stock := rootIn(h, mk(t, h, h.RootCred(), "stock", "devfs_ruleset=4"))
	bhyve := rootIn(h, mk(t, h, h.RootCred(), "bhyve", "devfs_ruleset=25"))
	nodir := rootIn(h, mk(t, h, h.RootCred(), "nodir", "devfs_ruleset=26"))
	none := rootIn(h, mk(t, h, h.RootCred(), "none"))
	cases := []struct {
		who  string
		cred *Ucred
		path string
		want bool
	}{
		{"host", h.RootCred(), "vmm/x", true},
		{"host", h.RootCred(), "mem", true},
		{"stock", stock, "null", true},
		{"stock", stock, "pts/3", true},
		{"stock", stock, "mem", false},
		{"stock", stock, "vmm", false},
		{"stock", stock, "vmm/x", false},
		{"stock", stock, "vmmctl", false},
		{"bhyve", bhyve, "vmm", true},
		{"bhyve", bhyve, "vmm/x", true},
		{"bhyve", bhyve, "vmm.io/x.bootrom", true},
		{"bhyve", bhyve, "vmmctl", true},
		{"bhyve", bhyve, "nmdm0A", true},
		{"bhyve", bhyve, "tap3", true},
		{"bhyve", bhyve, "mem", false},
		{"bhyve", bhyve, "vmm/dir/x", false}, // '*' does not cross '/'
		{"nodir: vmm/* without vmm", nodir, "vmm/x", false},
		// An unapplied ruleset (0) hides nothing (iocage_legacy #330).
		{"none", none, "mem", true},
	}
	for _, c := range cases {
		if got := DevfsVisible(c.cred, c.path, nil); got != c.want {
			t.Errorf("%s: /dev/%s visible = %v, want %v", c.who, c.path, got, c.want)
		}
	}
	// Devfs rules cannot be changed from inside a jail.
	wantErrno(t, "jailed devfs rule change", h.DevfsSetRuleset(bhyve, 30, u("mem")), abi.EPERM)
	wantErrno(t, "ruleset 0", h.DevfsSetRuleset(h.RootCred(), 0), abi.EINVAL)
	wantErrno(t, "ruleset 65536", h.DevfsSetRuleset(h.RootCred(), 65536), abi.EINVAL)
	// A ruleset including itself terminates.
	h.DevfsSetRuleset(h.RootCred(), 40, DevfsRule{Action: DevfsInclude, Include: 40}, u("a"))
	loop := rootIn(h, mk(t, h, h.RootCred(), "loop", "devfs_ruleset=40"))
	if !DevfsVisible(loop, "a", nil) {
		t.Fatal("self-including ruleset")
	}
}

const bhyveRules = `[devfsrules_bhyve_jail=25]
add include $devfsrules_jail      # stock jail ruleset 4 (hide all, unhide basics)
add path 'vmm' unhide             # the directory itself
add path 'vmm/*' unhide           # per-VM nodes
add path 'vmm.io' unhide          # device-memory directory (bootrom, fb)
add path 'vmm.io/*' unhide
add path 'vmmctl' unhide          # 15.x: create/destroy go through /dev/vmmctl
add path 'nmdm*' unhide           # serial consoles, if used
add path 'tap*' unhide            # networking, if taps are used
add path 'zvol/<pool>/<ds>/*' unhide  # disk backing, if zvols are used
`

func TestDevfsRulesSyntaxErrors(t *testing.T) {
	h := NewHost()
	for _, c := range []struct{ text, want string }{
		{"add path 'x' unhide\n", "devfs.rules:1: expected a [ruleset] header or an add line"},
		{"[r=1]\nadd path 'x' show\n", "devfs.rules:2: expected hide or unhide"},
		{"[r=0]\n", "devfs.rules:1: bad ruleset header"},
		{"[r=2]\nadd include $nope\n", "devfs.rules:2: unknown ruleset $nope"},
	} {
		err := h.LoadDevfsRules(h.RootCred(), c.text)
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
	}
	j := rootIn(h, mk(t, h, h.RootCred(), "j"))
	if err := h.LoadDevfsRules(j, "[r=9]\nadd hide\n"); err == nil {
		t.Error("a jail loaded devfs rules")
	}
}

// Credential filter alone: the ruleset unhides vmm/*, yet a sibling's VM
// stays hidden (14.x+); on a NULL-credential node (12.x) it shows.
func TestDevfsCredentialFilter(t *testing.T) {
	h := NewHost()
	h.InstallStockDevfsRules()
	h.DevfsSetRuleset(h.RootCred(), 25, DevfsRule{Action: DevfsInclude, Include: DevfsrulesJail},
		DevfsRule{Path: "vmm", Action: DevfsUnhide}, DevfsRule{Path: "vmm/*", Action: DevfsUnhide})
	a := rootIn(h, mk(t, h, h.RootCred(), "a", "devfs_ruleset=25"))
	b := rootIn(h, mk(t, h, h.RootCred(), "b", "devfs_ruleset=25"))
	if DevfsVisible(a, "vmm/bvm", b) {
		t.Fatal("a sees b's VM")
	}
	if !DevfsVisible(a, "vmm/avm", a) {
		t.Fatal("a does not see its own VM")
	}
	if !DevfsVisible(a, "vmm/hostvm", nil) {
		t.Fatal("a NULL-credential node is not filtered")
	}
	if DevfsVisible(a, "vmm/hostvm", h.RootCred()) {
		t.Fatal("a jail sees the host's credentialed node")
	}
}
