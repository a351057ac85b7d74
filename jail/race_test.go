package jail

import (
	"fmt"
	"sync"
	"testing"
)

// The host may be used from many goroutines at once (vmm's doors check
// credentials while jail(8) changes the tree); run with -race.
func TestConcurrentUse(t *testing.T) {
	h := NewHost()
	vmm := h.AddAllow("vmm")
	base := mk(t, h, h.RootCred(), "base", "allow.vmm", "children.max=100")
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			root := h.RootCred()
			for i := 0; i < 50; i++ {
				name := fmt.Sprintf("base.g%d_%d", g, i)
				jid, err := h.JailSet(root, []Param{StrParam("name", name), BoolParam("persist")}, JAIL_CREATE)
				if err != nil {
					t.Error(err)
					return
				}
				p, _ := h.Spawn(root)
				c, err := h.JailAttach(p.Cred(), jid)
				if err != nil {
					t.Error(err)
					return
				}
				_ = c.Jailed() && c.Prison.Allowed(vmm)
				_ = PrivCheck(c, PRIV_SYSCTL_WRITEJAIL)
				_ = DevfsVisible(c, "vmm/x", root)
				h.Lookup(jid).Hold()
				if i%2 == 0 {
					h.JailRemove(root, jid)
				} else {
					p.Exit()
					h.JailSet(root, []Param{IntParam("jid", jid), BoolParam("nopersist")}, JAIL_UPDATE)
				}
				h.JailGet(root, []Param{IntParam("lastjid", 0)}, JAIL_DYING)
				c.Prison.Free()
			}
		}(g)
	}
	for i := 0; i < 20; i++ {
		h.JailSet(h.RootCred(), []Param{IntParam("jid", base), BoolParam("allow.novmm")}, JAIL_UPDATE)
		h.JailSet(h.RootCred(), []Param{IntParam("jid", base), BoolParam("allow.vmm")}, JAIL_UPDATE)
	}
	wg.Wait()
	if n := len(h.Prisons()); n != 1 {
		t.Fatalf("%d prisons left, want only base", n)
	}
	if got := h.Lookup(base).ChildCount(); got != 0 {
		t.Fatalf("children.cur %d", got)
	}
}
