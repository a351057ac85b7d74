package vmm

import (
	"encoding/binary"
	"errors"
	"testing"

	"softvmm/emu/abi"
)

// walkVM is a VM with 4 MiB of RAM at 0 whose page tables the tests write
// by hand, entry by entry, so every expected address below is computed
// from the tables in the test, not by the code under test.
func walkVM(t *testing.T) (*Cdev, *Thread, []byte) {
	t.Helper()
	s := newSystem(t)
	dev := newVMDev(t, s, "w")
	ms := abi.VMMemseg{Segid: 0, Len: 4 << 20}
	if err := dev.Ioctl(s.host, abi.VM_ALLOC_MEMSEG, &ms); err != nil {
		t.Fatal(err)
	}
	mm := abi.VMMemmap{Segid: 0, Len: 4 << 20, Prot: abi.PROT_ALL}
	if err := dev.Ioctl(s.host, abi.VM_MMAP_MEMSEG, &mm); err != nil {
		t.Fatal(err)
	}
	ram, err := dev.Mmap(s.host, 0, 4<<20, abi.PROT_READ|abi.PROT_WRITE)
	if err != nil {
		t.Fatal(err)
	}
	return dev, s.host, ram
}

func put64(ram []byte, gpa, v uint64) { binary.LittleEndian.PutUint64(ram[gpa:], v) }
func put32(ram []byte, gpa uint64, v uint32) {
	binary.LittleEndian.PutUint32(ram[gpa:], v)
}

func nofault(t *testing.T, dev *Cdev, td *Thread, mode, cpuMode int32, cr3 uint64, cpl int32, gla uint64, prot int32) (uint64, int32, error) {
	t.Helper()
	a := abi.VMGla2Gpa{Prot: prot, Gla: gla, Paging: abi.VMGuestPaging{Cr3: cr3, Cpl: cpl, CpuMode: cpuMode, PagingMode: mode}}
	err := dev.Ioctl(td, abi.VM_GLA2GPA_NOFAULT, &a)
	return a.Gpa, a.Fault, err
}

// reference/vmm-interface.md §9, four-level paging.
func TestGla2gpaNofault64(t *testing.T) {
	dev, td, ram := walkVM(t)
	// PML4 at 0x10000; entry 1 → PDPT 0x11000 (user, RW); PDPT entry 2 →
	// PD 0x12000; PD entry 3 → PT 0x13000; PT entry 4 → page 0x200000.
	// gla = 1<<39 | 2<<30 | 3<<21 | 4<<12 | 0x567.
	put64(ram, 0x10000+1*8, 0x11000|pgV|pgRW|pgU)
	put64(ram, 0x11000+2*8, 0x12000|pgV|pgRW|pgU)
	put64(ram, 0x12000+3*8, 0x13000|pgV|pgRW|pgU)
	put64(ram, 0x13000+4*8, 0x200000|pgV|pgU) // read-only leaf
	gla := uint64(1)<<39 | 2<<30 | 3<<21 | 4<<12 | 0x567
	// A 2 MiB page: PD entry 5 with PS → 0x200000.
	put64(ram, 0x12000+5*8, 0x200000|pgV|pgRW|pgPS)
	gla2m := uint64(1)<<39 | 2<<30 | 5<<21 | 0x12345
	// A PS bit in the PML4 (entry 2) is a reserved-bit #PF.
	put64(ram, 0x10000+2*8, 0x11000|pgV|pgRW|pgPS)
	// A page table outside RAM (entry 3 → 0x7000000).
	put64(ram, 0x10000+3*8, 0x7000000|pgV|pgRW)
	for _, c := range []struct {
		what      string
		gla       uint64
		cpl, prot int32
		gpa       uint64
		fault     int32
		err       error
	}{
		{"read", gla, 0, abi.PROT_READ, 0x200567, 0, nil},
		{"user read", gla, 3, abi.PROT_READ, 0x200567, 0, nil},
		{"write to a read-only leaf", gla, 0, abi.PROT_WRITE, 0, 1, nil},
		{"2 MiB page", gla2m, 0, abi.PROT_READ, 0x212345, 0, nil},
		{"2 MiB page not user", gla2m, 3, abi.PROT_READ, 0, 1, nil},
		{"not present", 0, 0, abi.PROT_READ, 0, 1, nil},
		{"PS in PML4", uint64(2) << 39, 0, abi.PROT_READ, 0, 1, nil},
		{"page table outside RAM: EFAULT", uint64(3) << 39, 0, abi.PROT_READ, 0, 0, abi.EFAULT},
		{"non-canonical: #GP", 1 << 47, 0, abi.PROT_READ, 0, 1, nil},
	} {
		gpa, fault, err := nofault(t, dev, td, abi.PAGING_MODE_64, abi.CPU_MODE_64BIT, 0x10000, c.cpl, c.gla, c.prot)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%s: err %v, want %v", c.what, err, c.err)
			}
			continue
		}
		if err != nil || fault != c.fault || (c.fault == 0 && gpa != c.gpa) {
			t.Errorf("%s: gpa %#x fault %d err %v; want gpa %#x fault %d", c.what, gpa, fault, err, c.gpa, c.fault)
		}
	}
	// NOFAULT never writes: no accessed or dirty bit appeared.
	if binary.LittleEndian.Uint64(ram[0x10000+8:])&(pgA|pgM) != 0 || binary.LittleEndian.Uint64(ram[0x13000+32:])&pgA != 0 {
		t.Fatal("VM_GLA2GPA_NOFAULT set an accessed or dirty bit")
	}
	// Non-canonical addresses are fine outside 64-bit mode (no check).
	if _, fault, _ := nofault(t, dev, td, abi.PAGING_MODE_FLAT, abi.CPU_MODE_PROTECTED, 0, 0, 1<<47, abi.PROT_READ); fault != 0 {
		t.Fatal("canonical check outside 64-bit mode")
	}
}

func TestGla2gpaNofault32AndPAE(t *testing.T) {
	dev, td, ram := walkVM(t)
	// 32-bit: PD at 0x20000; entry 1 → PT 0x21000; PT entry 2 → 0x300000.
	put32(ram, 0x20000+1*4, 0x21000|pgV|pgRW)
	put32(ram, 0x21000+2*4, 0x300000|pgV|pgRW)
	// Entry 3 is a 4 MiB page at 0x000000 (PS honoured without CR4.PSE).
	put32(ram, 0x20000+3*4, 0x00000000|pgV|pgRW|pgPS)
	gpa, fault, err := nofault(t, dev, td, abi.PAGING_MODE_32, abi.CPU_MODE_PROTECTED, 0x20000, 0, 1<<22|2<<12|0xabc, abi.PROT_READ)
	if err != nil || fault != 0 || gpa != 0x300abc {
		t.Fatalf("32-bit: %#x %d %v", gpa, fault, err)
	}
	gpa, fault, err = nofault(t, dev, td, abi.PAGING_MODE_32, abi.CPU_MODE_PROTECTED, 0x20000, 0, 3<<22|0x12345, abi.PROT_READ)
	if err != nil || fault != 0 || gpa != 0x12345 {
		t.Fatalf("4 MiB page: %#x %d %v", gpa, fault, err)
	}
	// PAE: PDPT at 0x30020 (32-byte aligned, not page aligned); entry 1 →
	// PD 0x31000; PD entry 0 → PT 0x32000; PT entry 7 → 0x100000.
	put64(ram, 0x30020+1*8, 0x31000|pgV)
	put64(ram, 0x31000, 0x32000|pgV|pgRW)
	put64(ram, 0x32000+7*8, 0x100000|pgV|pgRW)
	gpa, fault, err = nofault(t, dev, td, abi.PAGING_MODE_PAE, abi.CPU_MODE_PROTECTED, 0x30020, 0, 1<<30|7<<12|0x10, abi.PROT_WRITE)
	if err != nil || fault != 0 || gpa != 0x100010 {
		t.Fatalf("PAE: %#x %d %v", gpa, fault, err)
	}
	// PDPT entry 0 not present.
	if _, fault, _ = nofault(t, dev, td, abi.PAGING_MODE_PAE, abi.CPU_MODE_PROTECTED, 0x30020, 0, 0, abi.PROT_READ); fault != 1 {
		t.Fatal("PAE: missing PDPT entry did not fault")
	}
	// vCPU range is checked by the lock.
	a := abi.VMGla2Gpa{Vcpuid: 16}
	if err := dev.Ioctl(td, abi.VM_GLA2GPA_NOFAULT, &a); !errors.Is(err, abi.EINVAL) {
		t.Fatalf("vCPU 16: %v", err)
	}
}

// The faulting VM_GLA2GPA (reference/vmm-interface.md §9): a successful
// walk sets the accessed bit at every level and, for a write, the dirty
// bit at the leaf; a fault queues the exception with fault semantics
// (#PF with CR2 = gla, #GP(0) for a non-canonical address), visible as
// VM_GET_INTINFO's info2 in §8.2's layout (vector 0-7, type 3 = exception
// at 8-10, error code valid bit 11, valid bit 31, error code 32-63); and an
// exception already pending stays as it was. Walk and result are FreeBSD
// 12's; the values below come from the tables the test writes.
func TestGla2gpaFaulting(t *testing.T) {
	dev, td, ram := walkVM(t)
	put64(ram, 0x10000+1*8, 0x11000|pgV|pgRW|pgU)
	put64(ram, 0x11000+0*8, 0x12000|pgV|pgRW|pgU)
	put64(ram, 0x12000+0*8, 0x13000|pgV|pgRW|pgU)
	put64(ram, 0x13000+7*8, 0x300000|pgV|pgRW|pgU)
	put64(ram, 0x13000+8*8, 0x301000|pgV|pgU) // read-only
	base := uint64(1) << 39
	walk := func(gla uint64, cpl, prot int32) abi.VMGla2Gpa {
		t.Helper()
		a := abi.VMGla2Gpa{Prot: prot, Gla: gla, Paging: abi.VMGuestPaging{Cr3: 0x10000, Cpl: cpl,
			CpuMode: abi.CPU_MODE_64BIT, PagingMode: abi.PAGING_MODE_64}}
		if err := dev.Ioctl(td, abi.VM_GLA2GPA, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	intinfo := func() uint64 {
		t.Helper()
		ii := abi.VMIntinfo{}
		if err := dev.Ioctl(td, abi.VM_GET_INTINFO, &ii); err != nil {
			t.Fatal(err)
		}
		return ii.Info2
	}
	// Error codes are delivered only with CR0.PE set (§8.1); put both
	// vCPUs in long mode's CR0.
	for vcpu := int32(0); vcpu < 2; vcpu++ {
		r := abi.VMRegister{Cpuid: vcpu, Regnum: abi.VM_REG_GUEST_CR0, Regval: 0x80000011}
		if err := dev.Ioctl(td, abi.VM_SET_REGISTER, &r); err != nil {
			t.Fatal(err)
		}
	}

	if a := walk(base|7<<12|0x10, 0, abi.PROT_WRITE); a.Fault != 0 || a.Gpa != 0x300010 {
		t.Fatalf("write walk: fault %d gpa %#x", a.Fault, a.Gpa)
	}
	for _, e := range []struct {
		what string
		gpa  uint64
		want uint64
	}{
		{"PML4E", 0x10000 + 8, pgA}, {"PDPTE", 0x11000, pgA}, {"PDE", 0x12000, pgA}, {"PTE", 0x13000 + 7*8, pgA | pgM},
	} {
		if got := binary.LittleEndian.Uint64(ram[e.gpa:]) & (pgA | pgM); got != e.want {
			t.Errorf("%s A/D bits %#x after a write walk, want %#x", e.what, got, e.want)
		}
	}
	if got := intinfo(); got != 0 {
		t.Fatalf("a walk that did not fault queued %#x", got)
	}

	// A user write to the read-only page: #PF, error code P|W|U = 7.
	gla := base | 8<<12 | 0x234
	if a := walk(gla, 3, abi.PROT_WRITE); a.Fault != 1 {
		t.Fatalf("write to a read-only page: fault %d", a.Fault)
	}
	if got, want := intinfo(), uint64(7)<<32|1<<31|1<<11|3<<8|14; got != want {
		t.Fatalf("pending after #PF: %#x, want %#x", got, want)
	}
	cr2 := abi.VMRegister{Regnum: abi.VM_REG_GUEST_CR2}
	if err := dev.Ioctl(td, abi.VM_GET_REGISTER, &cr2); err != nil || cr2.Regval != gla {
		t.Fatalf("CR2 = %#x (%v), want %#x", cr2.Regval, err, gla)
	}
	// A second fault while the first is pending leaves the first.
	if a := walk(1<<47, 0, abi.PROT_READ); a.Fault != 1 {
		t.Fatalf("non-canonical: fault %d", a.Fault)
	}
	if got, want := intinfo(), uint64(7)<<32|1<<31|1<<11|3<<8|14; got != want {
		t.Fatalf("pending after a second fault: %#x, want the first %#x", got, want)
	}
	// On another vCPU the non-canonical address queues #GP(0).
	a := abi.VMGla2Gpa{Vcpuid: 1, Prot: abi.PROT_READ, Gla: 1 << 47, Paging: abi.VMGuestPaging{Cr3: 0x10000,
		CpuMode: abi.CPU_MODE_64BIT, PagingMode: abi.PAGING_MODE_64}}
	if err := dev.Ioctl(td, abi.VM_GLA2GPA, &a); err != nil || a.Fault != 1 {
		t.Fatalf("non-canonical on vCPU 1: fault %d err %v", a.Fault, err)
	}
	ii := abi.VMIntinfo{Vcpuid: 1}
	if err := dev.Ioctl(td, abi.VM_GET_INTINFO, &ii); err != nil || ii.Info2 != 1<<31|1<<11|3<<8|13 {
		t.Fatalf("vCPU 1 pending %#x (%v), want #GP(0)", ii.Info2, err)
	}
}
