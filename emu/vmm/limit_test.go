package vmm_test

import (
	"testing"

	"softvmm/emu/abi"
)

// SetInsnLimit stops a guest spinning in `jmp .` (which never exits) at
// exactly the limit, with a DEBUG exit, every time.
func TestInsnLimit(t *testing.T) {
	for _, limit := range []uint64{1, 7, 1 << 16, 1<<16 + 3, 250000} {
		ctx := bootVM(t, "demo.elf")
		rip := patch(t, ctx, 0x90, 0x90, 0xeb, 0xfe) // nop; nop; jmp .
		vm := ctx.Dev().VM()
		if err := vm.SetInsnLimit(0, limit); err != nil {
			t.Fatal(err)
		}
		var ex abi.VMExit
		if err := ctx.Run(0, &ex); err != nil {
			t.Fatal(err)
		}
		if ex.Exitcode != abi.VM_EXITCODE_DEBUG {
			t.Fatalf("limit %d: exit %s, want DEBUG", limit, abi.ExitcodeName(ex.Exitcode))
		}
		if got := vm.Retired(0); got != limit {
			t.Errorf("limit %d: retired %d", limit, got)
		}
		wantRIP := rip + 2
		if limit == 1 {
			wantRIP = rip + 1
		}
		if ex.Rip != wantRIP {
			t.Errorf("limit %d: stopped at %#x, want %#x", limit, ex.Rip, wantRIP)
		}
		// Raising the limit lets it run on to the new one.
		vm.SetInsnLimit(0, limit+5)
		if err := ctx.Run(0, &ex); err != nil || ex.Exitcode != abi.VM_EXITCODE_DEBUG || vm.Retired(0) != limit+5 {
			t.Errorf("after raising the limit: %v %s retired %d", err, abi.ExitcodeName(ex.Exitcode), vm.Retired(0))
		}
	}
	if err := bootVM(t, "demo.elf").Dev().VM().SetInsnLimit(-1, 1); err == nil {
		t.Error("SetInsnLimit(-1) accepted")
	}
}
