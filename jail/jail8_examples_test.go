package jail

import (
	"strings"
	"testing"
)

// The examples of jail(8)'s EXAMPLES section in the allow.vmm-era manual
// (usr.sbin/jail/jail.8, reference/jail-and-security.md §2): a testjail
// entry in /etc/jail.conf started with `jail -c testjail`, and the same
// jail given on the command line with command=/bin/sh. They must parse
// and go through create, modify and remove on an emulated kernel.

// jail8TestjailConf is the manual's /etc/jail.conf entry.
const jail8TestjailConf = `testjail {
	path = /tmp/jail/testjail;
	mount.devfs;
	host.hostname = testhostname;
	ip4.addr = 192.0.2.100;
	interface = em0;
	exec.start = "/bin/sh /etc/rc";
	exec.stop = "/bin/sh /etc/rc.shutdown";
}
`

// rcDaemons is an Exec that does what /etc/rc does for a jail: it starts
// a daemon that stays (so the jail lives without persist) and returns.
type rcDaemons struct {
	h     *Host
	argvs [][]string
	procs []*Proc
}

func (r *rcDaemons) exec(_ Result, cred *Ucred, argv []string) error {
	r.argvs = append(r.argvs, argv)
	p, err := r.h.Spawn(cred)
	r.procs = append(r.procs, p)
	return err
}

// describe is jls -n for one jail, as a set of name=value words.
func describe(t *testing.T, h *Host, jid int) map[string]bool {
	t.Helper()
	words, err := h.Describe(h.RootCred(), jid)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, w := range words {
		m[w] = true
	}
	return m
}

func wantWords(t *testing.T, m map[string]bool, words ...string) {
	t.Helper()
	for _, w := range words {
		if !m[w] {
			t.Fatalf("jls -n lacks %q", w)
		}
	}
}

func TestJail8ExampleConfRoundTrip(t *testing.T) {
	c := parse(t, jail8TestjailConf)
	if got := c.Jails(); len(got) != 1 || got[0] != "testjail" {
		t.Fatalf("jails %q", got)
	}
	m := resolve(t, c, "testjail")
	wantVals(t, m, "name", "testjail")
	wantVals(t, m, "path", "/tmp/jail/testjail")
	wantVals(t, m, "host.hostname", "testhostname")
	wantVals(t, m, "ip4.addr", "192.0.2.100")
	wantVals(t, m, "interface", "em0")
	wantVals(t, m, "exec.start", "/bin/sh /etc/rc")
	wantVals(t, m, "exec.stop", "/bin/sh /etc/rc.shutdown")
	if _, ok := m["mount.devfs"]; !ok {
		t.Fatal("mount.devfs missing")
	}

	// jail -c testjail: no persist, so the jail lives by the daemons
	// exec.start leaves behind.
	h := NewHost()
	h.AddAllow("vmm") // vmm.ko is loaded in the emulated kernel
	rc := &rcDaemons{h: h}
	res, err := h.Jail8(h.RootCred(), Request{Op: OpCreate, Conf: c, Targets: []string{"testjail"}, Exec: rc.exec})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].Action != "created" {
		t.Fatalf("-c: %v", res)
	}
	jid := res[0].JID
	if len(rc.argvs) != 1 || strings.Join(rc.argvs[0], " ") != "/bin/sh /etc/rc" {
		t.Fatalf("exec.start ran as %q", rc.argvs)
	}
	wantWords(t, describe(t, h, jid), "name=testjail", "path=/tmp/jail/testjail", "host.hostname=testhostname",
		"ip4.addr=192.0.2.100", "ip4=new", "nopersist", "allow.novmm")
	for _, p := range []string{"interface", "mount.devfs", "exec.start", "exec.stop"} {
		if !hasPseudo(res[0].Pseudo, p) {
			t.Fatalf("pseudo-parameter %s not handed back", p)
		}
	}

	// jail -m testjail after an edit: a new hostname and allow.vmm.
	edited := strings.Replace(jail8TestjailConf, "testhostname;", "testhostname2;\n\tallow.vmm;", 1)
	res, err = h.Jail8(h.RootCred(), Request{Op: OpModify, Conf: parse(t, edited), Targets: []string{"testjail"}, Exec: rc.exec})
	if err != nil || res[0].Action != "updated" || res[0].JID != jid {
		t.Fatalf("-m: %v %v", res, err)
	}
	wantWords(t, describe(t, h, jid), "host.hostname=testhostname2", "allow.vmm", "path=/tmp/jail/testjail")
	if len(rc.argvs) != 1 {
		t.Fatal("-m ran exec.start again")
	}

	// The path is creation-only: -m refuses, -mr restarts (the old
	// daemon is killed, exec.start runs again in the new jail).
	moved := strings.Replace(edited, "/tmp/jail/testjail", "/data/jail/testjail", 1)
	_, err = h.Jail8(h.RootCred(), Request{Op: OpModify, Conf: parse(t, moved), Targets: []string{"testjail"}})
	if err == nil || err.Error() != "jail: testjail: path cannot be changed after creation" {
		t.Fatalf("-m of path: %v", err)
	}
	res, err = h.Jail8(h.RootCred(), Request{Op: OpModifyRestart, Conf: parse(t, moved), Targets: []string{"testjail"}, Exec: rc.exec})
	if err != nil || res[0].Action != "restarted" {
		t.Fatalf("-mr: %v %v", res, err)
	}
	if !rc.procs[0].Killed() || len(rc.argvs) != 2 {
		t.Fatal("-mr did not remove the old jail and start the new one")
	}
	jid = res[0].JID
	wantWords(t, describe(t, h, jid), "path=/data/jail/testjail", "host.hostname=testhostname2", "allow.vmm")

	// jail -r testjail: its processes are killed and it is gone.
	res, err = h.Jail8(h.RootCred(), Request{Op: OpRemove, Conf: c, Targets: []string{"testjail"}})
	if err != nil || res[0].Action != "removed" {
		t.Fatalf("-r: %v %v", res, err)
	}
	if !rc.procs[1].Killed() || len(h.Prisons()) != 0 {
		t.Fatalf("-r left %v", h.Prisons())
	}

	// The allow.vmm edit needs vmm loaded: on a kernel without it the
	// same file fails as jail.8 says.
	h2 := NewHost()
	_, err = h2.Jail8(h2.RootCred(), Request{Op: OpCreate, Conf: parse(t, edited), Exec: (&rcDaemons{h: h2}).exec})
	if err == nil || err.Error() != "jail: testjail: unknown parameter: allow.vmm" {
		t.Fatalf("allow.vmm without vmm: %v", err)
	}
}

// The manual's command-line form: jail -c path=... mount.devfs
// host.hostname=... ip4.addr=... command=/bin/sh. The jail exists while
// the shell runs and goes away when it exits.
func TestJail8ExampleCommandLine(t *testing.T) {
	h := NewHost()
	var seen map[string]bool
	var argv []string
	sh := func(r Result, cred *Ucred, a []string) error {
		argv = a
		if cred.Prison.JID() != r.JID || !cred.Jailed() {
			t.Errorf("the shell runs in prison %d, not in the new jail %d", cred.Prison.JID(), r.JID)
		}
		seen = describe(t, h, r.JID)
		return nil
	}
	res, err := h.Jail8(h.RootCred(), Request{Op: OpCreate, Exec: sh, Params: []string{
		"path=/data/jail/testjail", "mount.devfs", "host.hostname=testhostname", "ip4.addr=192.0.2.100", "command=/bin/sh"}})
	if err != nil || len(res) != 1 || res[0].Action != "created" {
		t.Fatalf("-c: %v %v", res, err)
	}
	if strings.Join(argv, " ") != "/bin/sh" {
		t.Fatalf("command ran as %q", argv)
	}
	wantWords(t, seen, "path=/data/jail/testjail", "host.hostname=testhostname", "ip4.addr=192.0.2.100", "nopersist")
	if len(h.Prisons()) != 0 {
		t.Fatal("the jail outlived its shell")
	}
	// command= takes the rest of the line as the command's arguments.
	res, err = h.Jail8(h.RootCred(), Request{Op: OpCreate, Exec: sh, Params: []string{
		"path=/", "command=/bin/echo", "persist", "a=b"}})
	if err != nil || strings.Join(argv, " ") != "/bin/echo persist a=b" {
		t.Fatalf("command words %q, %v", argv, err)
	}
	if len(h.Prisons()) != 0 {
		t.Fatal("persist after command= was taken as a parameter")
	}
	_ = res
}
