package jail

import (
	"testing"

	"softvmm/emu/abi"
)

// Requests that break two rules at once get the errno of the rule that
// comes first in kern_jail_set's order (reference §1.7, numbered steps).
func TestJailSetPrecedence(t *testing.T) {
	w := newWorld(t)
	nonroot := &Ucred{UID: 1001, Prison: w.h.Prison0()}
	inA := rootIn(w.h, w.a)
	inC := rootIn(w.h, w.c) // children.max 0
	pers := BoolParam("persist")
	cases := []struct {
		what  string
		cred  *Ucred
		iov   [][]byte // raw, when set
		ps    []Param
		flags int
		want  abi.Errno
	}{
		{"odd iovec (entry) before non-root (1)", nonroot,
			[][]byte{[]byte("persist\x00")}, nil, JAIL_CREATE, abi.EINVAL},
		{"non-root (1) before unknown flags (3)", nonroot,
			nil, []Param{pers}, JAIL_CREATE | 0x100, abi.EPERM},
		{"non-root (1) before bad enforce_statfs (6)", nonroot,
			nil, []Param{pers, IntParam("enforce_statfs", 3)}, JAIL_CREATE, abi.EPERM},
		{"children.max=0 (2) before unknown flags (3)", inC,
			nil, []Param{pers}, JAIL_CREATE | 0x100, abi.EPERM},
		{"children.max=0 (2) before bad option name (4)", inC,
			[][]byte{[]byte("persist"), nil}, nil, JAIL_CREATE, abi.EPERM},
		{"no operation (5) before securelevel below parent (16)", w.root,
			nil, []Param{IntParam("jid", w.c), IntParam("securelevel", -5)}, JAIL_ATTACH, abi.EINVAL},
		{"create without persist (8) before existing jid (13)", w.root,
			nil, []Param{IntParam("jid", w.a)}, JAIL_CREATE, abi.EINVAL},
		{"name too long (9) before existing jid (13)", w.root,
			nil, []Param{pers, IntParam("jid", w.a), StrParam("name", longName(300))}, JAIL_CREATE, abi.ENAMETOOLONG},
		{"osrelease on update (11) before its length (11)", w.root,
			nil, []Param{IntParam("jid", w.a), StrParam("osrelease", longName(40))}, JAIL_UPDATE, abi.EINVAL},
		{"negative jid (13) before allow bit (16)", w.root,
			nil, []Param{pers, IntParam("jid", -1), BoolParam("allow.vmm")}, JAIL_CREATE, abi.EINVAL},
		{"invisible jid EEXIST (13) before allow bit (16)", inA,
			nil, []Param{pers, IntParam("jid", w.b), BoolParam("allow.mount")}, JAIL_CREATE, abi.EEXIST},
		{"missing parent ENOENT (14) before securelevel (16)", w.root,
			nil, []Param{pers, StrParam("name", "nope.x"), IntParam("securelevel", -9)}, JAIL_CREATE, abi.ENOENT},
		{"sibling EEXIST (14) before unknown parameter (17)", w.root,
			nil, []Param{pers, StrParam("name", "a"), IntParam("frob", 1)}, JAIL_CREATE, abi.EEXIST},
		{"securelevel (16) before numeric name (16)", w.root,
			nil, []Param{pers, StrParam("name", "a.007"), IntParam("securelevel", -9)}, JAIL_CREATE, abi.EPERM},
		{"devfs_ruleset range EINVAL (16) before allow EPERM (16)", inA,
			nil, []Param{pers, StrParam("name", "x"), IntParam("devfs_ruleset", 70000), BoolParam("allow.mount")}, JAIL_CREATE, abi.EINVAL},
		{"allow EPERM (16) before unknown parameter EINVAL (17)", inA,
			nil, []Param{pers, StrParam("name", "x"), BoolParam("allow.mount"), IntParam("frob", 1)}, JAIL_CREATE, abi.EPERM},
		{"update of missing jid ENOENT (13) before name too long for children (16)", w.root,
			nil, []Param{IntParam("jid", 999), StrParam("name", longName(250))}, JAIL_UPDATE, abi.ENOENT},
	}
	for _, c := range cases {
		iov := c.iov
		if iov == nil {
			iov = toIov(c.ps)
		}
		_, _, err := w.h.JailSetIov(c.cred, iov, c.flags)
		wantErrno(t, c.what, err, c.want)
	}
}

// Step 15 (prison limit) comes before step 17 (unknown parameters); step
// 12 (the caller's own jail is dying) before step 13 (negative jid).
func TestJailSetPrecedenceState(t *testing.T) {
	h := NewHost()
	a := mk(t, h, h.RootCred(), "a", "children.max=1")
	inA := rootIn(h, a)
	mk(t, h, inA, "x")
	_, err := h.JailSet(inA, []Param{StrParam("name", "y"), BoolParam("persist"), IntParam("frob", 1)}, JAIL_CREATE)
	wantErrno(t, "limit (15) before unknown (17)", err, abi.EPERM)

	b := mk(t, h, h.RootCred(), "b", "children.max=3")
	h.Lookup(b).Hold()
	wantErrno(t, "remove b", h.JailRemove(h.RootCred(), b), 0)
	_, err = h.JailSet(rootIn(h, b), []Param{IntParam("jid", -1), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "own jail dying (12) before negative jid (13)", err, abi.EAGAIN)
}

// jail_get: bad flags are EINVAL before the key is looked at; lastjid
// beats jid, jid beats name (§1.8).
func TestJailGetPrecedence(t *testing.T) {
	w := newWorld(t)
	_, _, err := w.h.JailGet(w.root, []Param{IntParam("jid", 4242)}, 0x1)
	wantErrno(t, "bad flags with a missing jid", err, abi.EINVAL)
	jid, _, err := w.h.JailGet(w.root, []Param{IntParam("lastjid", 0), IntParam("jid", w.b)}, 0)
	if err != nil || jid != w.a {
		t.Fatalf("lastjid 0 = %d, %v; want the first jail %d", jid, err, w.a)
	}
	jid, _, err = w.h.JailGet(w.root, []Param{IntParam("jid", w.b), StrParam("name", "a")}, 0)
	if err != nil || jid != w.b {
		t.Fatalf("jid beats name: %d, %v", jid, err)
	}
	jid, _, err = w.h.JailGet(w.root, []Param{IntParam("jid", 0), StrParam("name", "a")}, 0)
	if err != nil || jid != w.a {
		t.Fatalf("jid 0 falls through to name: %d, %v", jid, err)
	}
	_, _, err = w.h.JailGet(w.root, []Param{IntParam("lastjid", w.c)}, 0)
	wantErrno(t, "nothing after the last jid", err, abi.ENOENT)
}
