package vmm_test

import (
	"testing"

	"softvmm/emu/abi"
)

// INS/OUTS leave VM_RUN as VM_EXITCODE_INOUT_STR with u.inout_str filled
// the way vmx_exit_process fills it (reference/vmm-interface.md §3.1),
// also for a port an in-kernel device owns (the RTC at 0x70): vmm's
// emulate_inout_str always returns to userspace (§7.1).
func TestRunInoutStrExit(t *testing.T) {
	ctx := bootVM(t, "exit33.elf")
	// rep outsb (%rsi),(%dx); rep insw (%dx),(%rdi) with a32; outsl with fs
	rip := patch(t, ctx, 0xf3, 0x6e, 0x67, 0x66, 0xf3, 0x6d, 0x64, 0x6f)
	set := func(r int32, v uint64) {
		if err := ctx.SetRegister(0, r, v); err != nil {
			t.Fatal(err)
		}
	}
	set(abi.VM_REG_GUEST_RDX, 0x3f8)
	set(abi.VM_REG_GUEST_RSI, 0x123456789)
	set(abi.VM_REG_GUEST_RDI, 0x1_0000_4000)
	set(abi.VM_REG_GUEST_RCX, 0x1_0000_0007)
	fs, err := ctx.GetDesc(0, abi.VM_REG_GUEST_FS)
	if err != nil {
		t.Fatal(err)
	}
	cr3, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_CR3)
	cr0, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_CR0)
	pg := abi.VMGuestPaging{Cr3: cr3, Cpl: 0, CpuMode: abi.CPU_MODE_64BIT, PagingMode: abi.PAGING_MODE_64}
	var ex abi.VMExit
	check := func(wantRip uint64, wantLen int32, want abi.InoutStrExit) {
		t.Helper()
		if err := ctx.Run(0, &ex); err != nil {
			t.Fatal(err)
		}
		got := ex.InoutStr()
		if ex.Exitcode != abi.VM_EXITCODE_INOUT_STR || ex.Rip != wantRip || ex.InstLength != wantLen {
			t.Fatalf("exit %s rip %#x len %d, want INOUT_STR %#x %d", abi.ExitcodeName(ex.Exitcode), ex.Rip, ex.InstLength, wantRip, wantLen)
		}
		got.Rflags &^= 0xfff // arithmetic flags of the boot code are not this test's
		if got != want {
			t.Fatalf("inout_str\n got %+v\nwant %+v", got, want)
		}
	}
	ds, _ := ctx.GetDesc(0, abi.VM_REG_GUEST_DS)
	es, _ := ctx.GetDesc(0, abi.VM_REG_GUEST_ES)
	check(rip, 2, abi.InoutStrExit{
		Inout:  abi.InoutExit{Bytes: 1, String: true, Rep: true, Port: 0x3f8},
		Paging: pg, Cr0: cr0, Index: 0x123456789, Count: 0x1_0000_0007, Addrsize: 8,
		SegName: abi.VM_REG_GUEST_DS, SegDesc: ds,
	})
	// Userspace did nothing: the next entry is past the instruction.
	set(abi.VM_REG_GUEST_RDX, 0x70)
	check(rip+2, 4, abi.InoutStrExit{
		Inout:  abi.InoutExit{Bytes: 2, In: true, String: true, Rep: true, Port: 0x70},
		Paging: pg, Cr0: cr0, Index: 0x1_0000_4000, Count: 7, Addrsize: 4,
		SegName: abi.VM_REG_GUEST_ES, SegDesc: es,
	})
	check(rip+6, 2, abi.InoutStrExit{
		Inout:  abi.InoutExit{Bytes: 4, String: true, Port: 0x70},
		Paging: pg, Cr0: cr0, Index: 0x123456789, Count: 1, Addrsize: 8,
		SegName: abi.VM_REG_GUEST_FS, SegDesc: fs,
	})
}
