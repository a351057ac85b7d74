package jail

import (
	"fmt"
	"strings"
	"testing"

	"softvmm/emu/abi"
)

// The J rows of reference/jail-and-security.md §5 ("jail / credential"),
// one test per row, each expecting the errno or rule the table gives.

// world is a host with vmm loaded and a small tree:
//
//	a (children.max=5, allow.vmm)   b (sibling, children.max=5)
//	└ a.c (persist)
type world struct {
	h       *Host
	vmm     uint32
	root    *Ucred
	a, b, c int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	h := NewHost()
	w := &world{h: h, vmm: h.AddAllow("vmm"), root: h.RootCred()}
	w.a = mk(t, h, w.root, "a", "children.max=5", "allow.vmm")
	w.b = mk(t, h, w.root, "b", "children.max=5")
	w.c = mk(t, h, w.root, "a.c")
	return w
}

func TestJ1NonRootIsEPERM(t *testing.T) {
	w := newWorld(t)
	for _, cred := range []*Ucred{
		{UID: 1001, Prison: w.h.Prison0()},
		{UID: 1001, Prison: w.h.Lookup(w.a)},
	} {
		_, err := w.h.JailSet(cred, []Param{StrParam("name", "x"), BoolParam("persist")}, JAIL_CREATE)
		wantErrno(t, "jail_set", err, abi.EPERM)
		wantErrno(t, "jail_remove", w.h.JailRemove(cred, w.c), abi.EPERM)
		_, err = w.h.JailAttach(cred, w.c)
		wantErrno(t, "jail_attach", err, abi.EPERM)
	}
	// jail_get needs no privilege (§1.8).
	if _, _, err := w.h.JailGet(&Ucred{UID: 1001, Prison: w.h.Prison0()}, []Param{IntParam("jid", w.a)}, 0); err != nil {
		t.Fatalf("non-root jail_get: %v", err)
	}
}

func TestJ2BadCallShapeIsEINVAL(t *testing.T) {
	w := newWorld(t)
	_, _, err := w.h.JailSetIov(w.root, [][]byte{[]byte("name\x00"), []byte("x\x00"), []byte("persist\x00")}, JAIL_CREATE)
	wantErrno(t, "odd iovec count", err, abi.EINVAL)
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "x"), BoolParam("persist")}, JAIL_CREATE|0x10)
	wantErrno(t, "unknown flag bit", err, abi.EINVAL)
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "x"), BoolParam("persist")}, JAIL_ATTACH)
	wantErrno(t, "neither CREATE nor UPDATE", err, abi.EINVAL)
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "x"), BoolParam("persist")}, 0)
	wantErrno(t, "no flags", err, abi.EINVAL)
	_, _, err = w.h.JailSetIov(w.root, [][]byte{[]byte("name"), []byte("x\x00")}, JAIL_CREATE)
	wantErrno(t, "name not NUL-terminated", err, abi.EINVAL)
	_, _, err = w.h.JailSetIov(w.root, [][]byte{[]byte("\x00"), nil}, JAIL_CREATE)
	wantErrno(t, "empty option name", err, abi.EINVAL)
	_, _, _, err = w.h.JailGetIov(w.root, [][]byte{[]byte("jid\x00")}, 0)
	wantErrno(t, "jail_get odd iovec count", err, abi.EINVAL)
}

func TestJ3ChildrenMaxZeroCannotCreate(t *testing.T) {
	w := newWorld(t)
	inC := rootIn(w.h, w.c) // a.c has the default children.max 0
	_, err := w.h.JailSet(inC, []Param{StrParam("name", "x"), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "create from a jail with children.max=0", err, abi.EPERM)
	// Updating is not creating: a jail with children.max=0 may still
	// update (here: nothing to update, so ENOENT, not EPERM).
	_, err = w.h.JailSet(inC, []Param{StrParam("name", "x")}, JAIL_UPDATE)
	wantErrno(t, "update from a jail with children.max=0", err, abi.ENOENT)
}

func TestJ4ChildCannotGetAllowVmmParentLacks(t *testing.T) {
	w := newWorld(t)
	inB := rootIn(w.h, w.b) // b lacks allow.vmm
	_, err := w.h.JailSet(inB, []Param{StrParam("name", "x"), BoolParam("persist"), BoolParam("allow.vmm")}, JAIL_CREATE)
	wantErrno(t, "jailed root asks for allow.vmm", err, abi.EPERM)
	// The host making b.x with allow.vmm is checked against b too.
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "b.x"), BoolParam("persist"), BoolParam("allow.vmm")}, JAIL_CREATE)
	wantErrno(t, "host asks for allow.vmm under b", err, abi.EPERM)
	// a has it, so a may pass it on.
	inA := rootIn(w.h, w.a)
	jid, err := w.h.JailSet(inA, []Param{StrParam("name", "x"), BoolParam("persist"), BoolParam("allow.vmm")}, JAIL_CREATE)
	wantErrno(t, "a grants allow.vmm", err, 0)
	if !w.h.Lookup(jid).Allowed(w.vmm) {
		t.Fatal("a.x lacks allow.vmm")
	}
	// unprivileged_proc_debug is the one bit a child may hold without
	// its parent (PR_ALLOW_DIFFERENCES).
	w.h.Lookup(w.b).SetAllow(PR_ALLOW_UNPRIVILEGED_PROC_DEBUG, false)
	_, err = w.h.JailSet(inB, []Param{StrParam("name", "y"), BoolParam("persist"), BoolParam("allow.unprivileged_proc_debug")}, JAIL_CREATE)
	wantErrno(t, "allow.unprivileged_proc_debug without the parent's", err, 0)
	// An update is checked against the parent as well.
	_, err = w.h.JailSet(w.root, []Param{IntParam("jid", w.c), BoolParam("allow.mount")}, JAIL_UPDATE)
	wantErrno(t, "update a.c to allow.mount that a lacks", err, abi.EPERM)
}

func TestJ5LimitsAgainstParent(t *testing.T) {
	w := newWorld(t)
	upd := func(jid int, p Param) error {
		_, err := w.h.JailSet(w.root, []Param{IntParam("jid", jid), p}, JAIL_UPDATE)
		return err
	}
	// children.max must be strictly less than the parent's: a has 5.
	wantErrno(t, "children.max == parent's", upd(w.c, IntParam("children.max", 5)), abi.EPERM)
	wantErrno(t, "children.max > parent's", upd(w.c, IntParam("children.max", 6)), abi.EPERM)
	wantErrno(t, "children.max < parent's", upd(w.c, IntParam("children.max", 4)), 0)
	// From the host, the parent is prison0 with JAIL_MAX.
	wantErrno(t, "children.max = JAIL_MAX", upd(w.a, IntParam("children.max", JAIL_MAX)), abi.EPERM)
	wantErrno(t, "children.max = JAIL_MAX-1", upd(w.a, IntParam("children.max", JAIL_MAX-1)), 0)
	// securelevel may not go below the parent's.
	wantErrno(t, "securelevel 2 on a", upd(w.a, IntParam("securelevel", 2)), 0)
	wantErrno(t, "securelevel 1 under a's 2", upd(w.c, IntParam("securelevel", 1)), abi.EPERM)
	wantErrno(t, "securelevel 3 under a's 2", upd(w.c, IntParam("securelevel", 3)), 0)
	// enforce_statfs: 0..2 (EINVAL) and not below the parent's (EPERM).
	wantErrno(t, "enforce_statfs 3", upd(w.a, IntParam("enforce_statfs", 3)), abi.EINVAL)
	wantErrno(t, "enforce_statfs -1", upd(w.a, IntParam("enforce_statfs", -1)), abi.EINVAL)
	wantErrno(t, "enforce_statfs 1 on a", upd(w.a, IntParam("enforce_statfs", 1)), 0)
	wantErrno(t, "enforce_statfs 0 under a's 1", upd(w.c, IntParam("enforce_statfs", 0)), abi.EPERM)
}

func TestJ6DevfsRuleset(t *testing.T) {
	w := newWorld(t)
	upd := func(cred *Ucred, jid, rs int) error {
		_, err := w.h.JailSet(cred, []Param{IntParam("jid", jid), IntParam("devfs_ruleset", rs)}, JAIL_UPDATE)
		return err
	}
	wantErrno(t, "host sets 4 on a", upd(w.root, w.a, 4), 0)
	wantErrno(t, "65536", upd(w.root, w.a, 65536), abi.EINVAL)
	wantErrno(t, "-1", upd(w.root, w.a, -1), abi.EINVAL)
	inA := rootIn(w.h, w.a)
	wantErrno(t, "jailed caller sets 25", upd(inA, w.c, 25), abi.EPERM)
	wantErrno(t, "jailed caller sets the parent's own 4", upd(inA, w.c, 4), 0)
	// 0 is accepted from a jail but forced to the parent's ruleset.
	wantErrno(t, "host sets 0 on a.c", upd(w.root, w.c, 0), 0)
	wantErrno(t, "jailed caller sets 0", upd(inA, w.c, 0), 0)
	if got := w.h.Lookup(w.c).DevfsRuleset(); got != 4 {
		t.Fatalf("a.c ruleset %d after a jailed caller set 0, want the parent's 4", got)
	}
	wantErrno(t, "jailed caller out of range", upd(inA, w.c, 70000), abi.EINVAL)
	// Setting it propagates to every descendant.
	wantErrno(t, "host sets 7 on a", upd(w.root, w.a, 7), 0)
	if got := w.h.Lookup(w.c).DevfsRuleset(); got != 7 {
		t.Fatalf("a.c ruleset %d, want 7 propagated", got)
	}
}

func TestJ7PrisonLimitExceeded(t *testing.T) {
	h := NewHost()
	root := h.RootCred()
	a := mk(t, h, root, "a", "children.max=2")
	inA := rootIn(h, a)
	mk(t, h, inA, "x")
	mk(t, h, inA, "y")
	_, err := h.JailSet(inA, []Param{StrParam("name", "z"), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "third child of a jail with children.max=2", err, abi.EPERM)
	// children.cur counts every descendant, not only children.
	h2 := NewHost()
	a2 := mk(t, h2, h2.RootCred(), "a", "children.max=3")
	x := mk(t, h2, rootIn(h2, a2), "x", "children.max=1")
	mk(t, h2, rootIn(h2, x), "g")
	if got := h2.Lookup(a2).ChildCount(); got != 2 {
		t.Fatalf("children.cur of a = %d, want 2 (child and grandchild)", got)
	}
	if got := getInt(t, h2, a2, "children.cur"); got != 2 {
		t.Fatalf("jail_get children.cur = %d, want 2", got)
	}
}

func TestJ7AncestorLimitAlone(t *testing.T) {
	h := NewHost()
	a := mk(t, h, h.RootCred(), "a", "children.max=3")
	x := mk(t, h, rootIn(h, a), "x", "children.max=2")
	mk(t, h, rootIn(h, a), "y")
	mk(t, h, rootIn(h, x), "g") // a: x, y, x.g = 3 = max
	if got, max := h.Lookup(x).ChildCount(), h.Lookup(x).ChildMax(); got >= max {
		t.Fatalf("x itself is full (%d/%d); the test needs only the ancestor full", got, max)
	}
	_, err := h.JailSet(rootIn(h, x), []Param{StrParam("name", "g2"), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "x has room but ancestor a is full", err, abi.EPERM)
}

func TestJ8CreateExisting(t *testing.T) {
	w := newWorld(t)
	inA := rootIn(w.h, w.a)
	// b is invisible from a, yet its jid still gives EEXIST (the
	// documented leak).
	_, err := w.h.JailSet(inA, []Param{IntParam("jid", w.b), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "create with an invisible jid", err, abi.EEXIST)
	_, err = w.h.JailSet(w.root, []Param{IntParam("jid", w.a), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "create with a visible jid", err, abi.EEXIST)
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "b"), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "create with an existing sibling name", err, abi.EEXIST)
	_, err = w.h.JailSet(inA, []Param{StrParam("name", "c"), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "create c from inside a (it is a.c)", err, abi.EEXIST)
	// Same last component under another parent is fine.
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "b.c"), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "b.c next to a.c", err, 0)
	// Update by jid to a sibling's name is EEXIST too.
	_, err = w.h.JailSet(w.root, []Param{IntParam("jid", w.b), StrParam("name", "a")}, JAIL_UPDATE)
	wantErrno(t, "rename b to a", err, abi.EEXIST)
}

func TestJ9UpdateMissing(t *testing.T) {
	w := newWorld(t)
	inA := rootIn(w.h, w.a)
	_, err := w.h.JailSet(w.root, []Param{IntParam("jid", 4242), BoolParam("persist")}, JAIL_UPDATE)
	wantErrno(t, "update a missing jid", err, abi.ENOENT)
	_, err = w.h.JailSet(inA, []Param{IntParam("jid", w.b), BoolParam("persist")}, JAIL_UPDATE)
	wantErrno(t, "update an invisible jid", err, abi.ENOENT)
	_, err = w.h.JailSet(inA, []Param{IntParam("jid", w.b), BoolParam("persist")}, JAIL_CREATE|JAIL_UPDATE)
	wantErrno(t, "create|update of an invisible jid", err, abi.ENOENT)
	_, err = w.h.JailSet(inA, []Param{IntParam("jid", w.a), BoolParam("persist")}, JAIL_UPDATE)
	wantErrno(t, "update one's own jail", err, abi.ENOENT)
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "nosuch"), BoolParam("persist")}, JAIL_UPDATE)
	wantErrno(t, "update a missing name", err, abi.ENOENT)
	_, err = w.h.JailSet(inA, []Param{StrParam("name", "b"), BoolParam("persist")}, JAIL_UPDATE)
	wantErrno(t, "update an invisible name", err, abi.ENOENT)
	_, err = w.h.JailSet(w.root, []Param{BoolParam("persist")}, JAIL_UPDATE)
	wantErrno(t, "update naming no jail", err, abi.ENOENT)
}

func TestJ10DottedNames(t *testing.T) {
	w := newWorld(t)
	_, err := w.h.JailSet(w.root, []Param{StrParam("name", "nope.child"), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "parent missing", err, abi.ENOENT)
	_, err = w.h.JailSet(w.root, []Param{IntParam("jid", w.c), StrParam("name", "b.c")}, JAIL_UPDATE)
	wantErrno(t, "re-parent a.c under b", err, abi.EINVAL)
	_, err = w.h.JailSet(w.root, []Param{IntParam("jid", w.c), StrParam("name", "c")}, JAIL_UPDATE)
	wantErrno(t, "re-parent a.c to the top", err, abi.EINVAL)
	// The same parent is fine (a rename).
	_, err = w.h.JailSet(w.root, []Param{IntParam("jid", w.c), StrParam("name", "a.d")}, JAIL_UPDATE)
	wantErrno(t, "rename a.c to a.d", err, 0)
	if n := w.h.Lookup(w.c).FullName(); n != "a.d" {
		t.Fatalf("renamed jail is %q", n)
	}
	// A dying parent is not found either.
	p := w.h.Lookup(w.b)
	p.Hold()
	wantErrno(t, "remove b", w.h.JailRemove(w.root, w.b), 0)
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "b.z"), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "parent dying", err, abi.ENOENT)
	p.Free()
}

func TestJ11NumericNames(t *testing.T) {
	w := newWorld(t)
	_, err := w.h.JailSet(w.root, []Param{StrParam("name", "007"), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "non-canonical numeric name", err, abi.EINVAL)
	_, err = w.h.JailSet(w.root, []Param{IntParam("jid", 50), StrParam("name", "51"), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "numeric name that is not the jid", err, abi.EINVAL)
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "0"), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "name 0", err, abi.EINVAL)
	// A numeric name on a pure create supplies the jid (§1.4).
	jid, err := w.h.JailSet(w.root, []Param{StrParam("name", "77"), BoolParam("persist")}, JAIL_CREATE)
	if err != nil || jid != 77 {
		t.Fatalf("name=77 gave jid %d, %v; want 77", jid, err)
	}
	// Also for the last component of a dotted name.
	jid, err = w.h.JailSet(w.root, []Param{StrParam("name", "a.78"), BoolParam("persist")}, JAIL_CREATE)
	if err != nil || jid != 78 {
		t.Fatalf("name=a.78 gave jid %d, %v; want 78", jid, err)
	}
	// A jail without a name is named after its jid.
	jid, err = w.h.JailSet(w.root, []Param{BoolParam("persist")}, JAIL_CREATE)
	if err != nil {
		t.Fatal(err)
	}
	if n := w.h.Lookup(jid).FullName(); n != fmt.Sprint(jid) {
		t.Fatalf("unnamed jail %d is called %q", jid, n)
	}
}

func TestJ12NegativeJid(t *testing.T) {
	w := newWorld(t)
	for _, f := range []int{JAIL_CREATE, JAIL_UPDATE, JAIL_CREATE | JAIL_UPDATE} {
		_, err := w.h.JailSet(w.root, []Param{IntParam("jid", -3), BoolParam("persist")}, f)
		wantErrno(t, fmt.Sprintf("jid -3 flags %#x", f), err, abi.EINVAL)
	}
	_, _, err := w.h.JailSetIov(w.root, [][]byte{[]byte("jid\x00"), {1, 0}, []byte("persist\x00"), nil}, JAIL_CREATE)
	wantErrno(t, "2-byte jid", err, abi.EINVAL)
	// A name that strtoul reads as a negative number is a negative jid.
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "-4"), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "name -4", err, abi.EINVAL)
}

func TestJ13CreateMustPersistOrAttach(t *testing.T) {
	w := newWorld(t)
	_, err := w.h.JailSet(w.root, []Param{StrParam("name", "x")}, JAIL_CREATE)
	wantErrno(t, "create without persist", err, abi.EINVAL)
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "x")}, JAIL_CREATE|JAIL_UPDATE)
	wantErrno(t, "create|update without persist (J15)", err, abi.EINVAL)
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "x"), BoolParam("nopersist")}, JAIL_CREATE)
	wantErrno(t, "create with nopersist", err, abi.EINVAL)
	p, _ := w.h.Spawn(w.root)
	jid, err := w.h.JailSet(p.Cred(), []Param{StrParam("name", "x")}, JAIL_CREATE|JAIL_ATTACH)
	wantErrno(t, "create|attach", err, 0)
	if p.Cred().Prison.ID != jid {
		t.Fatal("process was not attached")
	}
}

func TestJ14StringsMustBeTerminated(t *testing.T) {
	w := newWorld(t)
	try := func(what string, name string, val []byte) {
		t.Helper()
		_, _, err := w.h.JailSetIov(w.root, [][]byte{[]byte("persist\x00"), nil, []byte(name + "\x00"), val}, JAIL_CREATE)
		wantErrno(t, what, err, abi.EINVAL)
	}
	try("name empty", "name", nil)
	try("name unterminated", "name", []byte("abc"))
	try("hostname empty", "host.hostname", []byte{})
	try("hostname unterminated", "host.hostname", []byte("h"))
	try("domainname unterminated", "host.domainname", []byte("d"))
	try("hostuuid unterminated", "host.hostuuid", []byte("u"))
	// FreeBSD-SA-20:08: osrelease must be NUL-terminated.
	try("osrelease unterminated", "osrelease", []byte("13.0-RELEASE"))
	try("osrelease empty", "osrelease", nil)
	try("path unterminated", "path", []byte("/x"))
}

func TestJ15NamesTooLong(t *testing.T) {
	w := newWorld(t)
	// 255 characters + NUL = 256 = MAXHOSTNAMELEN fits; 256 does not.
	_, err := w.h.JailSet(w.root, []Param{StrParam("host.hostname", longName(256)), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "hostname 256 chars", err, abi.ENAMETOOLONG)
	_, err = w.h.JailSet(w.root, []Param{StrParam("host.hostname", longName(255)), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "hostname 255 chars", err, 0)
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", longName(256)), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "name 256 chars", err, abi.ENAMETOOLONG)
	_, err = w.h.JailSet(w.root, []Param{StrParam("host.hostuuid", longName(64)), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "hostuuid 64 chars", err, abi.ENAMETOOLONG)
	_, err = w.h.JailSet(w.root, []Param{StrParam("osrelease", longName(32)), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "osrelease 32 chars", err, abi.ENAMETOOLONG)
	// From inside a, a 254-character name passes the length check of
	// the parameter itself (255 bytes with the NUL) but not once a's
	// prefix "a." is counted; 253 fits exactly.
	inA := rootIn(w.h, w.a)
	_, err = w.h.JailSet(inA, []Param{StrParam("name", longName(254)), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "a. + 254", err, abi.ENAMETOOLONG)
	_, err = w.h.JailSet(inA, []Param{StrParam("name", longName(253)), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "a. + 253", err, 0)
	// Renaming a so that a child's full name would overflow.
	_, err = w.h.JailSet(w.root, []Param{IntParam("jid", w.a), StrParam("name", longName(200))}, JAIL_UPDATE)
	wantErrno(t, "rename a with a long child", err, abi.ENAMETOOLONG)
}

func TestJ16CreationOnlyParameters(t *testing.T) {
	w := newWorld(t)
	for _, p := range []Param{
		StrParam("path", "/jails/a"),
		StrParam("osrelease", "13.0-RELEASE"),
		IntParam("osreldate", 1300000),
		IntParam("vnet", JAIL_SYS_NEW),
		IntParam("ip4", JAIL_SYS_INHERIT),
		IntParam("ip6", JAIL_SYS_DISABLE),
	} {
		_, err := w.h.JailSet(w.root, []Param{IntParam("jid", w.a), p}, JAIL_UPDATE)
		wantErrno(t, "update "+p.Name, err, abi.EINVAL)
	}
	_, err := w.h.JailSet(w.root, []Param{StrParam("name", "z"), BoolParam("persist"), IntParam("osreldate", 0)}, JAIL_CREATE)
	wantErrno(t, "osreldate 0", err, abi.EINVAL)
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "z"), BoolParam("persist"), IntParam("host", JAIL_SYS_DISABLE)}, JAIL_CREATE)
	wantErrno(t, "host=disable", err, abi.EINVAL)
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "z"), BoolParam("persist"), IntParam("vnet", 7)}, JAIL_CREATE)
	wantErrno(t, "vnet=7", err, abi.EINVAL)
	_, err = w.h.JailSet(w.root, []Param{StrParam("name", "z"), BoolParam("persist"), IntParam("vnet", JAIL_SYS_NEW), {"ip4.addr", []byte{192, 0, 2, 1}}}, JAIL_CREATE)
	wantErrno(t, "vnet with ip4.addr", err, abi.EINVAL)
}

func TestJ17UnknownParameter(t *testing.T) {
	h := NewHost() // vmm not loaded: allow.vmm does not exist
	_, msg, err := h.JailSetIov(h.RootCred(), toIov([]Param{StrParam("name", "x"), BoolParam("persist"), BoolParam("allow.vmm")}), JAIL_CREATE)
	wantErrno(t, "allow.vmm before vmm registered", err, abi.EINVAL)
	if msg != "unknown parameter: allow.vmm" {
		t.Fatalf("errmsg %q", msg)
	}
	_, err = h.JailSet(h.RootCred(), []Param{StrParam("name", "x"), BoolParam("persist"), IntParam("frobnicate", 1)}, JAIL_CREATE)
	wantErrno(t, "made-up parameter", err, abi.EINVAL)
	// Read-only parameters are not settable either.
	for _, p := range []Param{IntParam("parent", 0), IntParam("children.cur", 0), BoolParam("dying")} {
		_, err = h.JailSet(h.RootCred(), []Param{StrParam("name", "x"), BoolParam("persist"), p}, JAIL_CREATE)
		wantErrno(t, "read-only "+p.Name, err, abi.EINVAL)
	}
	// jail(8)'s importer says the same before reaching the kernel.
	if _, err := h.ImportParam("allow.vmm", nil); err == nil || err.Error() != "unknown parameter: allow.vmm" {
		t.Fatalf("ImportParam(allow.vmm) = %v", err)
	}
	if _, err := h.ImportParam("allow.novmm", nil); err == nil || err.Error() != "unknown parameter: allow.novmm" {
		t.Fatalf("ImportParam(allow.novmm) = %v", err)
	}
	h.AddAllow("vmm")
	if _, err := h.ImportParam("allow.vmm", nil); err != nil {
		t.Fatalf("after registration: %v", err)
	}
}

func TestJ18RemoveAttachOutsideSubtree(t *testing.T) {
	w := newWorld(t)
	inA := rootIn(w.h, w.a)
	for _, c := range []struct {
		what string
		jid  int
	}{
		{"own jail", w.a},
		{"sibling", w.b},
		{"prison0 (an ancestor)", 0},
		{"missing jid", 4242},
	} {
		wantErrno(t, "remove "+c.what, w.h.JailRemove(inA, c.jid), abi.EINVAL)
		_, err := w.h.JailAttach(inA, c.jid)
		wantErrno(t, "attach "+c.what, err, abi.EINVAL)
	}
	inC := rootIn(w.h, w.c)
	wantErrno(t, "remove ancestor a from a.c", w.h.JailRemove(inC, w.a), abi.EINVAL)
	// Attach to a dying jail.
	w.h.Lookup(w.c).Hold()
	wantErrno(t, "remove a.c", w.h.JailRemove(w.root, w.c), 0)
	_, err := w.h.JailAttach(w.root, w.c)
	wantErrno(t, "attach to dying a.c", err, abi.EINVAL)
	// Removing a dying jail again is silently accepted (J15).
	wantErrno(t, "remove dying a.c", w.h.JailRemove(w.root, w.c), 0)
}

func TestJ19GetVisibility(t *testing.T) {
	w := newWorld(t)
	inA := rootIn(w.h, w.a)
	getj := func(cred *Ucred, p Param, flags int) error {
		_, _, err := w.h.JailGet(cred, []Param{p}, flags)
		return err
	}
	wantErrno(t, "own jail by jid", getj(inA, IntParam("jid", w.a), 0), abi.ENOENT)
	wantErrno(t, "own jail by name", getj(inA, StrParam("name", "0"), 0), abi.ENOENT)
	wantErrno(t, "sibling by jid", getj(inA, IntParam("jid", w.b), 0), abi.ENOENT)
	wantErrno(t, "sibling by name", getj(inA, StrParam("name", "b"), 0), abi.ENOENT)
	wantErrno(t, "child by relative name", getj(inA, StrParam("name", "c"), 0), 0)
	wantErrno(t, "no key", getj(inA, Param{Name: "persist"}, 0), abi.ENOENT)
	wantErrno(t, "bad flags", getj(w.root, IntParam("jid", w.a), JAIL_CREATE), abi.EINVAL)
	wantErrno(t, "empty name value", getj(w.root, Param{Name: "name", Value: []byte{}}, 0), abi.EINVAL)
	wantErrno(t, "unterminated name", getj(w.root, Param{Name: "name", Value: []byte("a")}, 0), abi.EINVAL)
	_, _, err := w.h.JailGet(w.root, []Param{IntParam("jid", w.a), Param{Name: "frob"}}, 0)
	wantErrno(t, "unknown requested parameter", err, abi.EINVAL)
	// Dying jails need JAIL_DYING.
	w.h.Lookup(w.c).Hold()
	w.h.JailRemove(w.root, w.c)
	wantErrno(t, "dying without JAIL_DYING", getj(w.root, IntParam("jid", w.c), 0), abi.ENOENT)
	wantErrno(t, "dying by name without JAIL_DYING", getj(w.root, StrParam("name", "a.c"), 0), abi.ENOENT)
	wantErrno(t, "dying with JAIL_DYING", getj(w.root, IntParam("jid", w.c), JAIL_DYING), 0)
	if !getBool(t, w.h, w.c, "dying") || getBool(t, w.h, w.c, "nodying") {
		t.Fatal("dying/nodying do not report a dying jail")
	}
}

func TestJ20JidExhaustion(t *testing.T) {
	h := NewHost()
	h.setJailMax(4)
	for i := 0; i < 3; i++ {
		mk(t, h, h.RootCred(), fmt.Sprint("j", i))
	}
	// prison0's children.max is JAIL_MAX (4 here): one more fits by the
	// limit but every jid 1..4 would then be used.
	mk(t, h, h.RootCred(), "j3")
	h.mu.Lock()
	h.prison0.childMax = 100 // let the limit pass, leaving only jids
	h.mu.Unlock()
	_, err := h.JailSet(h.RootCred(), []Param{StrParam("name", "j4"), BoolParam("persist")}, JAIL_CREATE)
	wantErrno(t, "no free jid", err, abi.EAGAIN)
	// Freeing one makes its jid available again (wrapping search).
	wantErrno(t, "remove j1", h.JailRemove(h.RootCred(), 2), 0)
	jid, err := h.JailSet(h.RootCred(), []Param{StrParam("name", "j4"), BoolParam("persist")}, JAIL_CREATE)
	if err != nil || jid != 2 {
		t.Fatalf("after freeing jid 2: %d, %v", jid, err)
	}
}

func TestJ21SysctlWithoutPrisonFlag(t *testing.T) {
	w := newWorld(t)
	inA := rootIn(w.h, w.a)
	// security.jail.vmm_allowed: CTLTYPE_INT|CTLFLAG_RW, no CTLFLAG_PRISON.
	wantErrno(t, "jailed root writes security.jail.vmm_allowed", SysctlWriteCheck(inA, CTLFLAG_RW), abi.EPERM)
	wantErrno(t, "host root writes it", SysctlWriteCheck(w.root, CTLFLAG_RW), 0)
	// hw.vmm.create: CTLFLAG_RW|CTLFLAG_PRISON lets jailed root through
	// the generic gate.
	wantErrno(t, "jailed root writes a PRISON node", SysctlWriteCheck(inA, CTLFLAG_RW|CTLFLAG_PRISON), 0)
}

func TestJ22RevokedBitNotRestored(t *testing.T) {
	w := newWorld(t)
	// a.c and a.c's child get allow.vmm first.
	upd := func(jid int, ps ...Param) error {
		_, err := w.h.JailSet(w.root, append([]Param{IntParam("jid", jid)}, ps...), JAIL_UPDATE)
		return err
	}
	wantErrno(t, "a.c allow.vmm", upd(w.c, BoolParam("allow.vmm")), 0)
	wantErrno(t, "a.c children.max", upd(w.c, IntParam("children.max", 2)), 0)
	g := mk(t, w.h, w.root, "a.c.g", "allow.vmm")
	wantErrno(t, "a allow.novmm", upd(w.a, BoolParam("allow.novmm")), 0)
	for _, j := range []int{w.a, w.c, g} {
		if w.h.Lookup(j).Allowed(w.vmm) {
			t.Fatalf("jail %d kept allow.vmm after a's revocation", j)
		}
	}
	wantErrno(t, "a allow.vmm again", upd(w.a, BoolParam("allow.vmm")), 0)
	if !w.h.Lookup(w.a).Allowed(w.vmm) {
		t.Fatal("a did not get allow.vmm back")
	}
	for _, j := range []int{w.c, g} {
		if w.h.Lookup(j).Allowed(w.vmm) {
			t.Fatalf("descendant %d regained allow.vmm", j)
		}
	}
}

func TestJ23LastOneWins(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		ps   []Param
		want bool
	}{
		{[]Param{BoolParam("allow.vmm"), BoolParam("allow.novmm")}, false},
		{[]Param{BoolParam("allow.novmm"), BoolParam("allow.vmm")}, true},
		{[]Param{BoolParam("allow.vmm"), BoolParam("allow.novmm"), BoolParam("allow.vmm")}, true},
	}
	for i, c := range cases {
		ps := append([]Param{StrParam("name", fmt.Sprint("l", i)), BoolParam("persist")}, c.ps...)
		jid, err := w.h.JailSet(w.root, ps, JAIL_CREATE)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got := w.h.Lookup(jid).Allowed(w.vmm); got != c.want {
			t.Fatalf("case %d: allow.vmm = %v, want %v", i, got, c.want)
		}
	}
	// persist then nopersist on create: nopersist wins, and a create
	// without persist is EINVAL.
	_, err := w.h.JailSet(w.root, []Param{StrParam("name", "p"), BoolParam("persist"), BoolParam("nopersist")}, JAIL_CREATE)
	wantErrno(t, "persist then nopersist", err, abi.EINVAL)
	// Integers: the last value counts.
	jid, err := w.h.JailSet(w.root, []Param{StrParam("name", "q"), BoolParam("persist"), IntParam("securelevel", 3), IntParam("securelevel", 1)}, JAIL_CREATE)
	if err != nil || w.h.Lookup(jid).Securelevel() != 1 {
		t.Fatalf("securelevel 3 then 1: %v, %d", err, w.h.Lookup(jid).Securelevel())
	}
	// Dotted no-form of a prefixed dynamic bit.
	bit := w.h.AddAllow("mount.tmpfs")
	jid, err = w.h.JailSet(w.root, []Param{StrParam("name", "r"), BoolParam("persist"), BoolParam("allow.mount.tmpfs"), BoolParam("allow.mount.notmpfs")}, JAIL_CREATE)
	if err != nil || w.h.Lookup(jid).Allowed(bit) {
		t.Fatalf("allow.mount.tmpfs then allow.mount.notmpfs: %v, %v", err, w.h.Lookup(jid).Allowed(bit))
	}
	if !strings.HasPrefix(noName("allow.mount.tmpfs"), "allow.mount.no") {
		t.Fatal(noName("allow.mount.tmpfs"))
	}
}

// J21 through the emulated sysctl tree: security.jail.vmm_allowed has no
// CTLFLAG_PRISON, so jailed root (even with allow.vmm) cannot write it;
// host root can, and a jail reads its own bit. The nodes exist only once
// allow.vmm is registered.
func TestJ21SysctlTree(t *testing.T) {
	h := NewHost()
	root := h.RootCred()
	if _, err := h.SysctlInt(root, "security.jail.vmm_allowed", nil); err != abi.ENOENT {
		t.Fatalf("vmm_allowed before vmm registered: %v, want ENOENT", err)
	}
	if _, err := h.SysctlInt(root, "security.jail.param.allow.vmm", nil); err != abi.ENOENT {
		t.Fatalf("param.allow.vmm before vmm registered: %v, want ENOENT", err)
	}
	h.AddAllow("vmm")
	with := rootIn(h, mk(t, h, root, "with", "allow.vmm"))
	without := rootIn(h, mk(t, h, root, "without"))
	one, zero := 1, 0
	_, err := h.SysctlInt(with, "security.jail.vmm_allowed", &one)
	wantErrno(t, "J21 jailed root writes vmm_allowed", err, abi.EPERM)
	_, err = h.SysctlInt(with, "security.jail.param.allow.vmm", &one)
	wantErrno(t, "J21 jailed root writes param.allow.vmm", err, abi.EPERM)
	_, err = h.SysctlInt(with, "security.jail.set_hostname_allowed", &zero)
	wantErrno(t, "J21 jailed root writes set_hostname_allowed", err, abi.EPERM)
	_, err = h.SysctlInt(with, "security.jail.jailed", &zero)
	wantErrno(t, "J21 write of a read-only node", err, abi.EPERM)
	for _, c := range []struct {
		cred *Ucred
		name string
		want int
	}{
		{with, "security.jail.vmm_allowed", 1},
		{without, "security.jail.vmm_allowed", 0},
		{root, "security.jail.vmm_allowed", 0}, // jail_default_allow lacks it
		{with, "security.jail.param.allow.vmm", 0},
		{with, "security.jail.jailed", 1},
		{root, "security.jail.jailed", 0},
	} {
		got, err := h.SysctlInt(c.cred, c.name, nil)
		if err != nil || got != c.want {
			t.Fatalf("read %s: %d, %v; want %d", c.name, got, err, c.want)
		}
	}
	_, err = h.SysctlInt(root, "security.jail.vmm_allowed", &one)
	wantErrno(t, "host root writes vmm_allowed", err, 0)
	if got, _ := h.SysctlInt(root, "security.jail.vmm_allowed", nil); got != 1 {
		t.Fatalf("vmm_allowed after host write = %d", got)
	}
	if got, _ := h.SysctlInt(without, "security.jail.vmm_allowed", nil); got != 0 {
		t.Fatal("the deprecated default changed an existing jail")
	}
	_, err = h.SysctlInt(root, "security.jail.nosuch_allowed", nil)
	wantErrno(t, "unknown node", err, abi.ENOENT)
}
