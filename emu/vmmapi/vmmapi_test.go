package vmmapi

import (
	"testing"

	"softvmm/emu/abi"
	"softvmm/emu/vmm"
	"softvmm/jail"
)

// WriteGPA reaches high memory (at 4 GiB for a guest over 3 GiB, as
// vm_setup_memory lays it out) through its own mapping, and refuses the
// 3-4 GiB hole and ranges that straddle a boundary. The written bytes are
// read back through a separate mmap of the device at the same gpa.
func TestWriteGPALowAndHigh(t *testing.T) {
	h := jail.NewHost()
	k := vmm.NewKernel(h)
	if err := k.Load(); err != nil {
		t.Fatal(err)
	}
	td := &vmm.Thread{Cred: h.RootCred()}
	if err := Create(k, td, "gpa"); err != nil {
		t.Fatal(err)
	}
	v, err := Open(k, td, "gpa")
	if err != nil {
		t.Fatal(err)
	}
	defer v.Destroy()
	if err := v.SetupMemory(LowmemLimit + 1<<20); err != nil {
		t.Fatal(err)
	}
	for _, gpa := range []uint64{0x1000, LowmemLimit - 4, HighmemBase, HighmemBase + 1<<20 - 4} {
		if err := v.WriteGPA(gpa, []byte{1, 2, 3, 4}); err != nil {
			t.Errorf("WriteGPA(%#x): %v", gpa, err)
			continue
		}
		m, err := v.dev.Mmap(v.td, int64(gpa), 4, abi.PROT_READ)
		if err != nil {
			t.Fatalf("mmap %#x: %v", gpa, err)
		}
		if string(m) != "\x01\x02\x03\x04" {
			t.Errorf("at %#x the device holds % x", gpa, m)
		}
	}
	for _, gpa := range []uint64{LowmemLimit - 2, LowmemLimit, HighmemBase - 4, HighmemBase + 1<<20 - 2, HighmemBase + 1<<20} {
		if err := v.WriteGPA(gpa, []byte{1, 2, 3, 4}); err != abi.EFAULT {
			t.Errorf("WriteGPA(%#x) = %v, want EFAULT", gpa, err)
		}
	}
}
