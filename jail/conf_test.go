package jail

import (
	"strings"
	"testing"
	"testing/fstest"
)

func parse(t *testing.T, text string) *Conf {
	t.Helper()
	c, err := ParseConfString(nil, "jail.conf", text)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return c
}

func resolve(t *testing.T, c *Conf, name string) map[string][]string {
	t.Helper()
	ps, err := c.Resolve(name)
	if err != nil {
		t.Fatalf("resolve %s: %v", name, err)
	}
	m := map[string][]string{}
	for _, p := range ps {
		m[p.Name] = p.Values
	}
	return m
}

func wantVals(t *testing.T, m map[string][]string, name string, want ...string) {
	t.Helper()
	got, ok := m[name]
	if !ok {
		t.Fatalf("%s missing (have %v)", name, m)
	}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Fatalf("%s = %q, want %q", name, got, want)
	}
}

// The shape of jail.conf(5)'s own example (written afresh here): global
// defaults, a wildcard path, a typical jail, an overriding jail,
// includes.
const manStyleConf = `# Defaults for every jail: start and stop with the rc scripts.
exec.start = "/bin/sh /etc/rc";
exec.stop = "/bin/sh /etc/rc.shutdown jail";
exec.clean;
mount.devfs;

// Each jail lives under /var/jail, by name.
path = "/var/jail/$name";

/* An ordinary jail
   with three addresses. */
foo {
	host.hostname = "foo.example.org";
	ip4.addr = 10.1.1.1, 10.1.1.2, 10.1.1.3;
	persist;
}

# A jail that overrides the defaults.
bar {
	exec.start = '';
	exec.stop = '';
	path = /;
	mount.nodevfs;
	persist;	// nothing runs in it
}

.include "/etc/jail.conf.d/*.conf";
`

func TestConfManStyleExample(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/jail.conf":          {Data: []byte(manStyleConf)},
		"etc/jail.conf.d/b.conf": {Data: []byte("baz { persist; host.hostname = \"$name.local\"; }\n")},
		"etc/jail.conf.d/a.conf": {Data: []byte("qux { persist; }\n")},
	}
	c, err := ParseConf(fsys, "/etc/jail.conf")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Jails(), ","); got != "foo,bar,qux,baz" {
		t.Fatalf("jails %s (includes in glob order after the file)", got)
	}
	foo := resolve(t, c, "foo")
	wantVals(t, foo, "name", "foo")
	wantVals(t, foo, "path", "/var/jail/foo")
	wantVals(t, foo, "exec.start", "/bin/sh /etc/rc")
	wantVals(t, foo, "ip4.addr", "10.1.1.1", "10.1.1.2", "10.1.1.3")
	bar := resolve(t, c, "bar")
	wantVals(t, bar, "path", "/")
	wantVals(t, bar, "exec.start", "")
	if _, ok := bar["mount.devfs"]; ok {
		t.Fatal("mount.nodevfs did not replace mount.devfs")
	}
	if _, ok := bar["mount.nodevfs"]; !ok {
		t.Fatal("mount.nodevfs missing")
	}
	wantVals(t, resolve(t, c, "baz"), "host.hostname", "baz.local")

	// Round trip through jail(8): -c all, check, -m after an edit, -r.
	h := NewHost()
	res, err := h.Jail8(h.RootCred(), Request{Op: OpCreate, Conf: c})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("results %v", res)
	}
	fooJID := res[0].JID
	ps := get(t, h, h.RootCred(), fooJID, "path", "host.hostname", "ip4.addr", "persist")
	if p, _ := ps.Str("path"); p != "/var/jail/foo" {
		t.Fatalf("path %q", p)
	}
	if s, _ := h.FormatParam(Param{"ip4.addr", mustFind(ps, "ip4.addr")}); s != "ip4.addr=10.1.1.1,10.1.1.2,10.1.1.3" {
		t.Fatalf("%s", s)
	}
	if !hasPseudo(res[0].Pseudo, "exec.start") || !hasPseudo(res[0].Pseudo, "mount.devfs") {
		t.Fatalf("pseudo-parameters not handed back: %v", res[0].Pseudo)
	}
	// -c again: exists.
	if _, err := h.Jail8(h.RootCred(), Request{Op: OpCreate, Conf: c, Targets: []string{"foo"}}); err == nil ||
		!strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second -c: %v", err)
	}
	// Edit the hostname and modify.
	c2 := mustParseFS(t, fsys, "etc/jail.conf", strings.Replace(manStyleConf, "foo.example.org", "foo2.example.org", 1))
	if _, err := h.Jail8(h.RootCred(), Request{Op: OpModify, Conf: c2, Targets: []string{"foo"}}); err != nil {
		t.Fatal(err)
	}
	if hn := h.Lookup(fooJID).Hostname(); hn != "foo2.example.org" {
		t.Fatalf("hostname after -m %q", hn)
	}
	// A creation-only change cannot be modified...
	c3 := mustParseFS(t, fsys, "etc/jail.conf", strings.Replace(manStyleConf, "/var/jail/$name", "/srv/$name", 1))
	_, err = h.Jail8(h.RootCred(), Request{Op: OpModify, Conf: c3, Targets: []string{"foo"}})
	if err == nil || err.Error() != "jail: foo: path cannot be changed after creation" {
		t.Fatalf("-m with a new path: %v", err)
	}
	// ...but -mr restarts the jail with it.
	res, err = h.Jail8(h.RootCred(), Request{Op: OpModifyRestart, Conf: c3, Targets: []string{"foo"}})
	if err != nil || res[0].Action != "restarted" {
		t.Fatalf("-mr: %v %v", res, err)
	}
	if p := h.Lookup(res[0].JID).Path(); p != "/srv/foo" {
		t.Fatalf("path after -mr %q", p)
	}
	// -r foo, then -r '*' takes the rest.
	if _, err := h.Jail8(h.RootCred(), Request{Op: OpRemove, Conf: c, Targets: []string{"foo"}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.runningJID(h.RootCred(), "foo", false); ok {
		t.Fatal("foo survived -r")
	}
	if _, err := h.Jail8(h.RootCred(), Request{Op: OpRemove, Targets: []string{"foo"}}); err == nil {
		t.Fatal("-r of a missing jail succeeded")
	}
	res, err = h.Jail8(h.RootCred(), Request{Op: OpRemove, Targets: []string{"*"}})
	if err != nil || len(res) != 3 {
		t.Fatalf("-r '*': %v %v", res, err)
	}
	if len(h.Prisons()) != 0 {
		t.Fatalf("left: %v", h.Prisons())
	}
}

func mustFind(ps Params, name string) []byte {
	v, _ := ps.find(name)
	return v
}

func hasPseudo(ps []ConfParam, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

func mustParseFS(t *testing.T, fsys fstest.MapFS, name, text string) *Conf {
	t.Helper()
	m := fstest.MapFS{}
	for k, v := range fsys {
		m[k] = v
	}
	m[name] = &fstest.MapFile{Data: []byte(text)}
	c, err := ParseConf(m, name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// reference §2.3's jailed-bhyve fragment: unknown allow.vmm until vmm is
// loaded, then a full create/modify/remove round trip.
const vmhostConf = `vmhost {
    path = "/jails/$name";
    host.hostname = "$name";
    persist;
    allow.vmm;            # dynamic bit; requires vmm.ko loaded
    devfs_ruleset = 25;   # a ruleset that unhides vmm nodes (see 3.5)
    mount.devfs;
    vnet;                 # only if the jail must create bridges/taps itself
}
`

func TestConfVmhostFragment(t *testing.T) {
	c := parse(t, vmhostConf)
	h := NewHost()
	_, err := h.Jail8(h.RootCred(), Request{Op: OpCreate, Conf: c})
	if err == nil || err.Error() != "jail: vmhost: unknown parameter: allow.vmm" {
		t.Fatalf("without vmm: %v", err)
	}
	if len(h.Prisons()) != 0 {
		t.Fatal("a failed create left a jail")
	}
	vmm := h.AddAllow("vmm")
	res, err := h.Jail8(h.RootCred(), Request{Op: OpCreate, Conf: c})
	if err != nil {
		t.Fatal(err)
	}
	p := h.Lookup(res[0].JID)
	if !p.Allowed(vmm) || p.Hostname() != "vmhost" || p.Path() != "/jails/vmhost" || p.DevfsRuleset() != 25 || p.Flags()&PR_VNET == 0 {
		t.Fatalf("vmhost: allow %#x host %q path %q ruleset %d flags %#x", p.AllowMask(), p.Hostname(), p.Path(), p.DevfsRuleset(), p.Flags())
	}
	// -cm on an existing jail modifies it; vnet (creation-only, same
	// value) is not sent again.
	c2 := parse(t, strings.Replace(vmhostConf, "allow.vmm;", "allow.novmm;", 1))
	res, err = h.Jail8(h.RootCred(), Request{Op: OpCreateModify, Conf: c2})
	if err != nil || res[0].Action != "updated" {
		t.Fatalf("-cm: %v %v", res, err)
	}
	if p.Allowed(vmm) {
		t.Fatal("allow.novmm did not revoke")
	}
	// -rc restarts: a new jail with the same name.
	res, err = h.Jail8(h.RootCred(), Request{Op: OpRestart, Conf: c})
	if err != nil || len(res) != 2 || res[0].Action != "removed" || res[1].Action != "created" {
		t.Fatalf("-rc: %v %v", res, err)
	}
	if p.State() != PRISON_STATE_INVALID || !h.Lookup(res[1].JID).Allowed(vmm) {
		t.Fatal("-rc did not replace the jail")
	}
	// -R removes without jail.conf.
	if _, err := h.Jail8(h.RootCred(), Request{Op: OpRemoveNoConf, Targets: []string{"vmhost"}}); err != nil {
		t.Fatal(err)
	}
	if len(h.Prisons()) != 0 {
		t.Fatal("-R left the jail")
	}
}

// Wildcard precedence: blocks before a jail apply first (the jail
// overrides them); blocks after it override the jail (§2.3).
func TestConfWildcardPrecedence(t *testing.T) {
	c := parse(t, `
* { securelevel = 1; host.hostname = "early"; }
web { securelevel = 2; host.hostname = "mine"; }
web.* { children.max = 0; }
* { host.hostname = "late"; }
web.a { persist; }
web.a.b { persist; }
*.db { enforce_statfs = 1; }
x.db { persist; }
x.y.db { persist; }
`)
	web := resolve(t, c, "web")
	wantVals(t, web, "securelevel", "2")
	wantVals(t, web, "host.hostname", "late")
	if _, ok := web["children.max"]; ok {
		t.Fatal("web.* matched web itself")
	}
	wantVals(t, resolve(t, c, "web.a"), "children.max", "0")
	wantVals(t, resolve(t, c, "web.a.b"), "children.max", "0") // final * matches one or more
	wantVals(t, resolve(t, c, "x.db"), "enforce_statfs", "1")
	if _, ok := resolve(t, c, "x.y.db")["enforce_statfs"]; ok {
		t.Fatal("a non-final * matched two components")
	}
	if got := strings.Join(c.Jails(), ","); got != "web,web.a,web.a.b,x.db,x.y.db" {
		t.Fatalf("jails %s", got)
	}
}

func TestConfVariablesAndQuoting(t *testing.T) {
	c := parse(t, `
$base = "/jails";
a {
	$sub = "data";
	path = "$base/$name/${sub}";
	host.hostname = ${name}.example;
	exec.start = '/bin/echo $name';
	exec.stop = "tab\there \101\x42 \"q\"";
	exec.poststart = one\
two;
	ip4.addr = 192.0.2.1;
	ip4.addr += 192.0.2.2, 192.0.2.3;
	exec.prestart = "${path}";
	persist;
}
5 { persist; }
`)
	a := resolve(t, c, "a")
	wantVals(t, a, "path", "/jails/a/data")
	wantVals(t, a, "host.hostname", "a.example")
	wantVals(t, a, "exec.start", "/bin/echo $name")
	wantVals(t, a, "exec.stop", "tab\there AB \"q\"")
	wantVals(t, a, "exec.poststart", "onetwo")
	wantVals(t, a, "ip4.addr", "192.0.2.1", "192.0.2.2", "192.0.2.3")
	wantVals(t, a, "exec.prestart", "/jails/a/data")
	if _, ok := a["$sub"]; ok {
		t.Fatal("a $variable was returned as a parameter")
	}
	five := resolve(t, c, "5")
	wantVals(t, five, "jid", "5")
	if _, ok := five["name"]; ok {
		t.Fatal("numeric block name must set jid, not name")
	}
}

func TestConfResolveErrors(t *testing.T) {
	cases := []struct{ text, jail, want string }{
		{`a { path = "$nope"; }`, "a", `variable "nope" not found`},
		{`a { $x = "$y"; $y = "$x"; path = $x; }`, "a", "variable loop"},
		{`a { ip4.addr = 192.0.2.1, 192.0.2.2; exec.start = "ip ${ip4.addr}"; }`, "a", "array cannot be substituted inline"},
	}
	for _, c := range cases {
		conf := parse(t, c.text)
		_, err := conf.Resolve(c.jail)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
	}
}

// Syntax errors carry the file and line.
func TestConfSyntaxErrors(t *testing.T) {
	cases := []struct{ text, want string }{
		{"a {\n persist\n allow.vmm;\n}\n", "jail.conf:3: syntax error near \"allow.vmm\""},
		{"a {\n path = \"/x;\n}\n", "jail.conf:2: unterminated quote"},
		{"/* one\ntwo\nthree\n", "jail.conf:1: unterminated comment"},
		{"# c\n// c\n/* c\n c */ a {\n persist;\n", "jail.conf:6: syntax error: unexpected end of file"},
		{"}\n", "jail.conf:1: syntax error near \"}\""},
		{"a { b { persist; } }\n", "jail.conf:1: syntax error near \"{\""},
		{"a {\n\n name = b;\n}\n", "jail.conf:3: name: cannot redefine variable"},
		{"a {\n jid = 4;\n}\n", "jail.conf:2: jid: cannot redefine variable"},
		{"a { path = ; persist }\n", "jail.conf:1: syntax error near \"}\""},
		{"x = 1, ;\n", "jail.conf:1: syntax error near \";\""},
		{".include \"/nope.conf\";\n", "jail.conf:1: .include \"/nope.conf\": file does not exist"},
	}
	for _, c := range cases {
		_, err := ParseConfString(fstest.MapFS{}, "jail.conf", c.text)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.text, err, c.want)
		}
	}
	// An error inside an included file names that file.
	fsys := fstest.MapFS{"inc/x.conf": {Data: []byte("\n\nq { persist }\n")}}
	_, err := ParseConfString(fsys, "jail.conf", ".include \"/inc/*.conf\";\n")
	if err == nil || !strings.HasPrefix(err.Error(), "/inc/x.conf:3:") {
		t.Fatalf("included error: %v", err)
	}
}

// jail(8) parameter syntax (§2.2).
func TestParamSyntax(t *testing.T) {
	h := NewHost()
	h.AddAllow("vmm")
	h.AddAllow("mount.zfs")
	ok := []struct {
		arg  string
		name string
		val  []byte
	}{
		{"persist", "persist", nil},
		{"nopersist", "nopersist", nil},
		{"persist=false", "nopersist", nil},
		{"persist=TRUE", "persist", nil},
		{"persist=0", "nopersist", nil},
		{"persist=7", "persist", nil},
		{"nopersist=false", "persist", nil},
		{"allow.vmm", "allow.vmm", nil},
		{"allow.novmm", "allow.novmm", nil},
		{"allow.mount.nozfs", "allow.mount.nozfs", nil},
		{"allow.mount.zfs=1", "allow.mount.zfs", nil},
		{"securelevel=-1", "securelevel", IntParam("", -1).Value},
		{"vnet", "vnet", IntParam("", JAIL_SYS_NEW).Value},
		{"host=inherit", "host", IntParam("", JAIL_SYS_INHERIT).Value},
		{"ip4=disable", "ip4", IntParam("", JAIL_SYS_DISABLE).Value},
		{"ip4.addr=em0|192.0.2.1/24,192.0.2.2", "ip4.addr", []byte{192, 0, 2, 1, 192, 0, 2, 2}},
		{"ip6.addr=2001:db8::1", "ip6.addr", []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
		{"host.hostname=a=b", "host.hostname", []byte("a=b\x00")},
		{"name=", "name", []byte{0}},
	}
	for _, c := range ok {
		n, v := ParseParamArg(c.arg)
		p, err := h.ImportParam(n, v)
		if err != nil {
			t.Errorf("%s: %v", c.arg, err)
			continue
		}
		if p.Name != c.name || string(p.Value) != string(c.val) {
			t.Errorf("%s: got %s=%v, want %s=%v", c.arg, p.Name, p.Value, c.name, c.val)
		}
	}
	bad := []struct{ arg, want string }{
		{"persist=maybe", `persist: unknown boolean value "maybe"`},
		{"securelevel=1x", `securelevel: non-integer value "1x"`},
		{"securelevel=", `securelevel: non-integer value ""`},
		{"children.max=0x10", `children.max: non-integer value "0x10"`},
		{"nopath=/x", "nopath: mismatched boolean"},
		{"allow.nosuchthing", "unknown parameter: allow.nosuchthing"},
		{"frob=1", "unknown parameter: frob"},
		{"ip4.addr=2001:db8::1", "ip4.addr: not an IPv4 address: 2001:db8::1"},
		{"ip4.addr=300.1.1.1", "ip4.addr: not an IPv4 address: 300.1.1.1"},
		{"vnet=sometimes", `vnet: unknown value "sometimes"`},
		{"children.cur=1", "children.cur: parameter is read-only"},
	}
	for _, c := range bad {
		n, v := ParseParamArg(c.arg)
		_, err := h.ImportParam(n, v)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %q", c.arg, err, c.want)
		}
	}
}

func TestParseDefaultConf(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/jail.conf":           {Data: []byte("a { persist; }\n")},
		"etc/jail.extra.conf":     {Data: []byte("b { persist; }\n")},
		"etc/jail.conf.d/c.conf":  {Data: []byte("c { persist; }\n")},
		"etc/jail.conf.d/c.other": {Data: []byte("not { jail.conf\n")},
	}
	c, err := ParseDefaultConf(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Jails(), ","); got != "a,b,c" {
		t.Fatalf("jails %s", got)
	}
	if c, err := ParseDefaultConf(fstest.MapFS{}); err != nil || len(c.Jails()) != 0 {
		t.Fatalf("empty: %v %v", c, err)
	}
}

// A conf file that cannot be read is named as given, leading "/" kept.
func TestParseConfNamesPathAsGiven(t *testing.T) {
	fsys := fstest.MapFS{"etc/d/x.conf": {Data: []byte("a { persist; }")},
		"etc/inc.conf": {Data: []byte(`.include "/etc/d";`)}}
	for name, want := range map[string]string{
		"/nonexistent.conf": "open /nonexistent.conf: file does not exist",
		"/etc/d":            "read /etc/d: ",
		"/etc/inc.conf":     "read /etc/d: ",
	} {
		_, err := ParseConf(fsys, name)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %v, want %q…", name, err, want)
		}
	}
}
