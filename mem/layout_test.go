package mem

import (
	"bytes"
	"testing"

	"softvmm/emu/abi"
)

// TestBhyveLayout builds the layout libvmmapi gives a guest with more than
// lowmem_limit (3 GiB) of RAM (reference/vmm-interface.md §6.6): one
// sysmem segment of 4 GiB + (memsize − 3 GiB), so object offset == gpa,
// mapped at 0 for 3 GiB and at 4 GiB for the rest, the MMIO hole
// [3 GiB, 4 GiB) between, and a UEFI boot ROM (devmem segment 1,
// "bootrom", read+exec) just below 4 GiB. With MAP_NORESERVE backing it
// costs only the pages touched.
func TestBhyveLayout(t *testing.T) {
	const (
		memsize  = 4 * gib
		lowmem   = 3 * gib
		seglen   = 4*gib + (memsize - lowmem) // 5 GiB
		highlen  = memsize - lowmem           // 1 GiB at 4 GiB
		romlen   = 2 * mib
		romgpa   = 4*gib - romlen
		wantTop  = 4*gib + highlen // 5 GiB
		hole     = lowmem + 0x1234
		highByte = 4*gib + 0x123
	)
	s := newSpace(t)
	must(t, s.AllocMemseg(abi.VM_SYSMEM, seglen, true, ""))
	must(t, s.AllocMemseg(abi.VM_BOOTROM, romlen, false, "bootrom"))
	must(t, s.MmapMemseg(0, abi.VM_SYSMEM, 0, lowmem, rwx, 0))
	must(t, s.MmapMemseg(4*gib, abi.VM_SYSMEM, 4*gib, highlen, rwx, abi.VM_MEMMAP_F_WIRED))
	must(t, s.MmapMemseg(romgpa, abi.VM_BOOTROM, 0, romlen, rx, 0))

	// bhyve re-runs its setup after bhyveload; the kernel refuses the
	// duplicate (libvmmapi's idempotence check is userland's).
	checkErr(t, "duplicate mapping", s.MmapMemseg(0, abi.VM_SYSMEM, 0, lowmem, rwx, 0), abi.EFAULT)

	if got := s.MaxAddr(); got != wantTop {
		t.Fatalf("MaxAddr = %#x, want %#x", got, uint64(wantTop))
	}
	want := []Memmap{
		{GPA: 0, Segid: 0, Segoff: 0, Len: lowmem, Prot: rwx},
		{GPA: romgpa, Segid: 1, Segoff: 0, Len: romlen, Prot: rx},
		{GPA: 4 * gib, Segid: 0, Segoff: 4 * gib, Len: highlen, Prot: rwx, Flags: abi.VM_MEMMAP_F_WIRED},
	}
	if got := allMaps(s); !equalMaps(got, want) {
		t.Fatalf("walk = %+v\nwant %+v", got, want)
	}

	// Page: RAM up to 3 GiB, MMIO hole, ROM below 4 GiB, RAM above.
	for _, c := range []struct {
		gpa  uint64
		prot int
	}{
		{0, rwx}, {lowmem - 1, rwx}, {lowmem, 0}, {hole, 0}, {romgpa - 1, 0},
		{romgpa, rx}, {4*gib - 1, rx}, {4 * gib, rwx}, {wantTop - 1, rwx}, {wantTop, 0},
	} {
		pg, prot := s.Page(c.gpa)
		if (pg != nil) != (c.prot != 0) || prot != c.prot {
			t.Errorf("Page(%#x): mapped %v prot %d, want prot %d", c.gpa, pg != nil, prot, c.prot)
		}
	}

	// read(2) of the MMIO hole and of the ROM (below maxaddr) gives zeros;
	// at maxaddr EFAULT.
	buf := bytes.Repeat([]byte{0xee}, 16)
	if n, err := s.ReadAt(buf, hole); n != 16 || err != nil || !bytes.Equal(buf, zeros(16)) {
		t.Fatalf("read of the MMIO hole = %d, %v, % x", n, err, buf)
	}
	if n, err := s.ReadAt(buf, wantTop); n != 0 || err != abi.EFAULT {
		t.Fatalf("read at maxaddr = %d, %v", n, errName(err))
	}
	if n, err := s.WriteAt(buf, hole); n != 0 || err != abi.EFAULT {
		t.Fatalf("write to the MMIO hole = %d, %v", n, errName(err))
	}

	// High RAM: object offset == gpa, so the high store is in the
	// segment at the same offset, seen by Page and by the host view bhyve
	// makes with mmap of the VM fd at offset == gpa.
	must2(t)(s.WriteAt([]byte("high"), highByte))
	pg, _ := s.Page(highByte)
	if string(pg[0x123:0x127]) != "high" {
		t.Fatal("Page does not see the high store")
	}
	if got := backing(s, 0, highByte, highByte+4); string(got) != "high" {
		t.Fatal("high RAM is not at object offset == gpa")
	}
	host, err := s.Mmap(4*gib, 4096, rw)
	must(t, err)
	defer func() { must(t, Munmap(host)) }()
	if string(host[0x123:0x127]) != "high" {
		t.Fatal("Mmap at gpa 4 GiB does not see the store")
	}
	// The ROM is not mappable through the VM node (§6.4), only through
	// its own (§6.5).
	if _, err := s.Mmap(romgpa, 4096, abi.PROT_READ); err != abi.EINVAL {
		t.Fatalf("Mmap of the ROM gpa: %v", errName(err))
	}
	if _, err := s.Mmap(lowmem-4096, 8192, abi.PROT_READ); err != abi.ENOENT {
		t.Fatalf("Mmap across 3 GiB: %v", errName(err))
	}
}

func must2(t *testing.T) func(int, error) {
	return func(_ int, err error) {
		t.Helper()
		must(t, err)
	}
}
