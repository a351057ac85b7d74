package cpu

import (
	"testing"
	"time"
)

// An exception whose handler is an instruction that raises it again
// retires nothing and, on silicon, loops for ever. Run must still end
// (ExitBudget once more events than the budget were delivered), so that
// VM_RUN returns; found by TestRandomBytesNoInternalError in real mode
// with IVT[16] pointing at an FWAIT with an exception pending.
func TestFaultLoopEndsRun(t *testing.T) {
	ud2 := []byte{0x0f, 0x0b}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) *CPU
	}{
		{"real", func(t *testing.T) *CPU {
			g := newFuzzGuest(t, "real")
			copy(g.ram.b[g.at:], ud2)
			g.ram.w64(vecUD*4, g.at) // IVT[6] = 0000:7C00, the UD2 itself
			g.reset()
			g.c.setRflags(2)
			g.c.rip = g.at
			g.c.modeChanged()
			g.c.tlb.flush()
			// A stack far from the IVT, so the pushes never rewrite it.
			g.c.seg[segSS].sel, g.c.seg[segSS].base = 0x7000, 0x70000
			g.c.r[rSP] = 0xfffe
			return g.c
		}},
		{"long", func(t *testing.T) *CPU {
			c, ram := withHandlers(t, ud2)
			copy(ram.b[handlerVA+vecUD*16:], ud2) // the #UD handler is a UD2
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.setup(t)
			done := make(chan Exit, 1)
			go func() { done <- c.Run(20) }()
			select {
			case ex := <-done:
				if ex.Reason != ExitBudget || c.Retired() != 0 {
					t.Fatalf("exit %v after %d retired, want ExitBudget after 0", ex.Reason, c.Retired())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run(20) did not return")
			}
		})
	}
}
