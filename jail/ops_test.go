package jail

import (
	"strings"
	"testing"
)

// jail(8) operations over a Host (reference §2.1).
func TestJail8CommandLine(t *testing.T) {
	h := NewHost()
	root := h.RootCred()
	run := func(op Op, targets []string, params ...string) ([]Result, error) {
		return h.Jail8(root, Request{Op: op, Targets: targets, Params: params})
	}
	res, err := run(OpCreate, nil, "name=web", "persist", "children.max=4", "host.hostname=w", "exec.start=/bin/sh /etc/rc")
	if err != nil || res[0].Action != "created" {
		t.Fatalf("-c: %v %v", res, err)
	}
	web := res[0].JID
	// Command-line parameters: last one wins, noX after X.
	res, err = run(OpCreate, nil, "name=web.a", "persist", "allow.mount", "allow.nomount", "securelevel=2", "securelevel=1")
	if err != nil {
		t.Fatal(err)
	}
	a := h.Lookup(res[0].JID)
	if a.Allowed(PR_ALLOW_MOUNT) || a.Securelevel() != 1 {
		t.Fatalf("last one wins: mount %v securelevel %d", a.Allowed(PR_ALLOW_MOUNT), a.Securelevel())
	}
	if _, err := run(OpModify, []string{"web"}, "host.hostname=w2"); err != nil {
		t.Fatal(err)
	}
	if h.Lookup(web).Hostname() != "w2" {
		t.Fatal("-m did not set the hostname")
	}
	_, err = run(OpModify, []string{"nosuch"}, "persist")
	if err == nil || err.Error() != "jail: nosuch: jail not found" {
		t.Fatalf("-m nosuch: %v", err)
	}
	// -cm creates when missing.
	res, err = run(OpCreateModify, nil, "name=web.b", "persist")
	if err != nil || res[0].Action != "created" {
		t.Fatalf("-cm new: %v %v", res, err)
	}
	// Neither persist nor a command.
	_, err = run(OpCreate, nil, "name=lonely")
	if err == nil || !strings.Contains(err.Error(), "persist") {
		t.Fatalf("no persist, no command: %v", err)
	}
	// A command without persist: created attached, gone when the
	// (unexecuted) command's process ends.
	res, err = run(OpCreate, nil, "name=oneshot", "command=/bin/true")
	if err != nil || res[0].Action != "created" {
		t.Fatalf("command jail: %v %v", res, err)
	}
	if _, ok := h.runningJID(root, "oneshot", false); ok {
		t.Fatal("a non-persistent command jail outlived its command")
	}
	// Kernel errors come back with the kernel's message.
	_, err = run(OpCreate, nil, "name=web", "persist")
	if err == nil || err.Error() != `jail: web: jail "web" already exists` {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = run(OpCreate, nil, "name=web.c", "persist", "allow.vmm")
	if err == nil || err.Error() != "jail: web.c: unknown parameter: allow.vmm" {
		t.Fatalf("allow.vmm unregistered: %v", err)
	}
	// jid-keyed targets.
	if _, err := run(OpModify, []string{"1"}, "host.hostname=byjid"); err != nil {
		t.Fatal(err)
	}
	if h.Lookup(1).Hostname() != "byjid" {
		t.Fatal("modify by jid")
	}
	// Hierarchical partial wildcard removal.
	res, err = h.Jail8(root, Request{Op: OpRemove, Targets: []string{"web.*"}})
	if err != nil || len(res) != 2 {
		t.Fatalf("-r web.*: %v %v", res, err)
	}
	if _, ok := h.runningJID(root, "web", false); !ok {
		t.Fatal("web.* removed web itself")
	}
	if _, err := h.Jail8(root, Request{Op: OpRemove}); err == nil {
		t.Fatal("-r without a target")
	}
}

// Children are created after their parents and removed before them,
// whatever the order in jail.conf; depend= orders too.
func TestJail8Ordering(t *testing.T) {
	c := parse(t, `
persist;
top.mid.leaf { }
db { }
app { depend = db; }
top.mid { children.max = 1; }
top { children.max = 2; }
`)
	h := NewHost()
	res, err := h.Jail8(h.RootCred(), Request{Op: OpCreate, Conf: c})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		got = append(got, r.Name)
	}
	if s := strings.Join(got, ","); s != "top,top.mid,top.mid.leaf,db,app" {
		t.Fatalf("create order %s", s)
	}
	res, err = h.Jail8(h.RootCred(), Request{Op: OpRemove, Conf: c, Targets: []string{"top", "top.mid"}})
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, r := range res {
		got = append(got, r.Name)
	}
	if s := strings.Join(got, ","); s != "top.mid,top" {
		t.Fatalf("remove order %s, want children first", s)
	}
	if _, ok := h.runningJID(h.RootCred(), "top.mid.leaf", false); ok {
		t.Fatal("removing top.mid left its child")
	}
}
