package jail

import (
	"errors"
	"strings"
	"testing"

	"softvmm/emu/abi"
)

// wantErrno fails unless err is exactly want (nil for success).
func wantErrno(t *testing.T, what string, err error, want abi.Errno) {
	t.Helper()
	if want == 0 {
		if err != nil {
			t.Fatalf("%s: got %v, want success", what, err)
		}
		return
	}
	var got abi.Errno
	if !errors.As(err, &got) || got != want {
		t.Fatalf("%s: got %v, want %s (%v)", what, err, want.Name(), want)
	}
}

// mk creates a persistent jail from cred with extra parameters (jail(8)
// spelling) and returns its jid.
func mk(t *testing.T, h *Host, cred *Ucred, name string, extra ...string) int {
	t.Helper()
	ps := []Param{StrParam("name", name), BoolParam("persist")}
	for _, e := range extra {
		n, v := ParseParamArg(e)
		p, err := h.ImportParam(n, v)
		if err != nil {
			t.Fatalf("import %s: %v", e, err)
		}
		ps = append(ps, p)
	}
	jid, err := h.JailSet(cred, ps, JAIL_CREATE)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return jid
}

// rootIn is uid 0 in jail jid (a kernel-made credential: no process).
func rootIn(h *Host, jid int) *Ucred { return &Ucred{UID: 0, Prison: h.Lookup(jid)} }

// get reads parameters of jail jid as cred sees it.
func get(t *testing.T, h *Host, cred *Ucred, jid int, names ...string) Params {
	t.Helper()
	req := []Param{IntParam("jid", jid)}
	for _, n := range names {
		req = append(req, Param{Name: n})
	}
	_, ps, err := h.JailGet(cred, req, JAIL_DYING)
	if err != nil {
		t.Fatalf("jail_get %d: %v", jid, err)
	}
	return ps
}

func getInt(t *testing.T, h *Host, jid int, name string) int {
	t.Helper()
	n, ok := get(t, h, h.RootCred(), jid, name).Int(name)
	if !ok {
		t.Fatalf("%s missing", name)
	}
	return n
}

func getBool(t *testing.T, h *Host, jid int, name string) bool {
	t.Helper()
	b, ok := get(t, h, h.RootCred(), jid, name).Bool(name)
	if !ok {
		t.Fatalf("%s missing", name)
	}
	return b
}

func longName(n int) string { return strings.Repeat("x", n) }
