package mem

import (
	"bytes"
	"io"
	"testing"

	"softvmm/emu/abi"
)

var (
	_ io.ReaderAt = (*Space)(nil)
	_ io.WriterAt = (*Space)(nil)
)

// rwLayout is the guest used by the read(2)/write(2) tests:
//
//	[0x0000, 0x2000)  seg 0 off 0x0000  sysmem RWX
//	[0x2000, 0x4000)  hole
//	[0x4000, 0x6000)  seg 0 off 0x2000  sysmem RW
//	[0x6000, 0x7000)  seg 1 off 0x1000  devmem "rom" R+X (below maxaddr)
//	[0x7000, 0xa000)  hole
//	[0xa000, 0xb000)  seg 2 off 0x0000  sysmem R+X (read-only RAM)
//	maxaddr = 0xb000
func rwLayout(t *testing.T) *Space {
	s := newSpace(t)
	must(t, s.AllocMemseg(0, 0x4000, true, ""))
	must(t, s.AllocMemseg(1, 0x2000, false, "rom"))
	must(t, s.AllocMemseg(2, 0x1000, true, ""))
	fill(t, s, 0, 0, 0x4000)
	fill(t, s, 1, 0, 0x2000)
	fill(t, s, 2, 0, 0x1000)
	must(t, s.MmapMemseg(0x0000, 0, 0x0000, 0x2000, rwx, 0))
	must(t, s.MmapMemseg(0x4000, 0, 0x2000, 0x2000, rw, 0))
	must(t, s.MmapMemseg(0x6000, 1, 0x1000, 0x1000, rx, 0))
	must(t, s.MmapMemseg(0xa000, 2, 0x0000, 0x1000, rx, 0))
	if got := s.MaxAddr(); got != 0xb000 {
		t.Fatalf("MaxAddr = %#x, want 0xb000", got)
	}
	return s
}

// romAboveLayout: sysmem [0, 0x1000) and devmem rom at [0x10000, 0x11000),
// above maxaddr 0x1000.
func romAboveLayout(t *testing.T) *Space {
	s := newSpace(t)
	must(t, s.AllocMemseg(0, 0x1000, true, ""))
	must(t, s.AllocMemseg(1, 0x1000, false, "rom"))
	fill(t, s, 0, 0, 0x1000)
	fill(t, s, 1, 0, 0x1000)
	must(t, s.MmapMemseg(0, 0, 0, 0x1000, rwx, 0))
	must(t, s.MmapMemseg(0x10000, 1, 0, 0x1000, rx, 0))
	return s
}

// writeOnlyLayout: sysmem mapped PROT_WRITE only at [0, 0x1000), the only
// mapping, so maxaddr is 0x1000.
func writeOnlyLayout(t *testing.T) *Space {
	s := newSpace(t)
	must(t, s.AllocMemseg(0, 0x1000, true, ""))
	fill(t, s, 0, 0, 0x1000)
	must(t, s.MmapMemseg(0, 0, 0, 0x1000, abi.PROT_WRITE, 0))
	return s
}

// TestReadAt has one case per rule of read(2) on /dev/vmm/NAME
// (reference/vmm-interface.md §6.3).
func TestReadAt(t *testing.T) {
	tests := []struct {
		name  string
		space func(*testing.T) *Space
		gpa   int64
		n     int // buffer size
		want  []byte
		err   error
	}{
		{"§6.3 sysmem, one page", rwLayout, 0x0100, 0x100, patRange(0, 0x100, 0x200), nil},
		{"§6.3 sysmem, across pages of one mapping", rwLayout, 0x0ff0, 0x20, patRange(0, 0xff0, 0x1010), nil},
		{"§6.3 whole mapping", rwLayout, 0x0000, 0x2000, patRange(0, 0, 0x2000), nil},
		{"§6.3 second mapping at its segment offset", rwLayout, 0x4000, 0x10, patRange(0, 0x2000, 0x2010), nil},
		{"§6.3 hole below maxaddr reads as zeros", rwLayout, 0x2000, 0x2000, zeros(0x2000), nil},
		{"§6.3 across a page boundary into a hole", rwLayout, 0x1ff0, 0x20, cat(patRange(0, 0x1ff0, 0x2000), zeros(0x10)), nil},
		{"§6.3 from a hole into RAM", rwLayout, 0x3ff8, 0x10, cat(zeros(8), patRange(0, 0x2000, 0x2008)), nil},
		{"§6.3 RAM, hole, RAM", rwLayout, 0x1000, 0x4000, cat(patRange(0, 0x1000, 0x2000), zeros(0x2000), patRange(0, 0x2000, 0x3000)), nil},
		{"§6.3 devmem below maxaddr reads as zeros (12: sysmem only)", rwLayout, 0x6000, 0x40, zeros(0x40), nil},
		{"§6.3 read-only sysmem is readable", rwLayout, 0xa000, 0x1000, patRange(2, 0, 0x1000), nil},
		{"§6.3 at maxaddr: EFAULT", rwLayout, 0xb000, 0x10, nil, abi.EFAULT},
		{"§6.3 above maxaddr: EFAULT", rwLayout, 0x100000, 0x10, nil, abi.EFAULT},
		{"§6.3 partial: bytes before the failing chunk", rwLayout, 0xaff0, 0x20, patRange(2, 0xff0, 0x1000), abi.EFAULT},
		{"§6.3 partial across several pages", rwLayout, 0x9800, 0x2000, cat(zeros(0x800), patRange(2, 0, 0x1000)), abi.EFAULT},
		{"§6.3 devmem above maxaddr: EFAULT", romAboveLayout, 0x10000, 0x10, nil, abi.EFAULT},
		{"§6.3 sysmem without PROT_READ is a hole (vm_gpa_hold reqprot)", writeOnlyLayout, 0x10, 0x10, zeros(0x10), nil},
		{"§6.3 negative offset is a huge gpa: EFAULT", rwLayout, -4096, 0x10, nil, abi.EFAULT},
		{"§6.3 empty read moves nothing, even above maxaddr", rwLayout, 0x100000, 0, nil, nil},
		{"§6.3 no memory at all: EFAULT", func(t *testing.T) *Space { return newSpace(t) }, 0, 1, nil, abi.EFAULT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.space(t)
			p := bytes.Repeat([]byte{0xAA}, tc.n) // zeros must be written, not left
			n, err := s.ReadAt(p, tc.gpa)
			checkErr(t, "ReadAt", err, tc.err)
			if n != len(tc.want) {
				t.Fatalf("ReadAt n = %#x, want %#x", n, len(tc.want))
			}
			if !bytes.Equal(p[:n], tc.want) {
				t.Fatalf("ReadAt data mismatch at gpa %#x", tc.gpa)
			}
		})
	}
}

// TestWriteAt has one case per rule of write(2) on /dev/vmm/NAME
// (reference/vmm-interface.md §6.3). Results are checked in the segments'
// backing objects.
func TestWriteAt(t *testing.T) {
	type seg struct {
		segid  int
		lo, hi uint64
		want   []byte
	}
	data := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(0x80 + i%0x7f)
		}
		return b
	}
	tests := []struct {
		name  string
		space func(*testing.T) *Space
		gpa   int64
		p     []byte
		n     int
		err   error
		check []seg
	}{
		{"§6.3 sysmem", rwLayout, 0x0100, data(0x100), 0x100, nil,
			[]seg{{0, 0xff, 0x201, cat(patRange(0, 0xff, 0x100), data(0x100), patRange(0, 0x200, 0x201))}}},
		{"§6.3 second mapping lands at its segment offset", rwLayout, 0x4ff0, data(0x20), 0x20, nil,
			[]seg{{0, 0x2ff0, 0x3010, data(0x20)}}},
		{"§6.3 whole mapping", rwLayout, 0x4000, data(0x2000), 0x2000, nil,
			[]seg{{0, 0x2000, 0x4000, data(0x2000)}}},
		{"§6.3 write to a hole: EFAULT", rwLayout, 0x2000, data(0x10), 0, abi.EFAULT, nil},
		{"§6.3 partial: RAM then hole", rwLayout, 0x1ff0, data(0x20), 0x10, abi.EFAULT,
			[]seg{{0, 0x1fe0, 0x2010, cat(patRange(0, 0x1fe0, 0x1ff0), data(0x10), patRange(0, 0x2000, 0x2010))}}},
		{"§6.3 devmem is not writable this way", rwLayout, 0x6000, data(0x10), 0, abi.EFAULT,
			[]seg{{1, 0x1000, 0x1010, patRange(1, 0x1000, 0x1010)}}},
		{"§6.3 read-only sysmem: EFAULT (vm_gpa_hold reqprot)", rwLayout, 0xa000, data(0x10), 0, abi.EFAULT,
			[]seg{{2, 0, 0x10, patRange(2, 0, 0x10)}}},
		{"§6.3 write-only sysmem is writable", writeOnlyLayout, 0x10, data(0x10), 0x10, nil,
			[]seg{{0, 0x10, 0x20, data(0x10)}}},
		{"§6.3 above maxaddr: EFAULT", rwLayout, 0x100000, data(1), 0, abi.EFAULT, nil},
		{"§6.3 negative offset: EFAULT", rwLayout, -1, data(1), 0, abi.EFAULT, nil},
		{"§6.3 empty write", rwLayout, 0x2000, nil, 0, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.space(t)
			n, err := s.WriteAt(tc.p, tc.gpa)
			checkErr(t, "WriteAt", err, tc.err)
			if n != tc.n {
				t.Fatalf("WriteAt n = %#x, want %#x", n, tc.n)
			}
			for _, c := range tc.check {
				if got := backing(s, c.segid, c.lo, c.hi); !bytes.Equal(got, c.want) {
					t.Fatalf("segment %d [%#x, %#x) = % x\nwant % x", c.segid, c.lo, c.hi, got, c.want)
				}
			}
		})
	}
}

// TestWriteThenRead round-trips through both calls across every page kind
// the rwLayout has below maxaddr.
func TestWriteThenRead(t *testing.T) {
	s := rwLayout(t)
	in := bytes.Repeat([]byte("softvmm!"), 0x400/8)
	if n, err := s.WriteAt(in, 0x5e00); n != 0x200 || err != abi.EFAULT {
		t.Fatalf("WriteAt across RAM end = %#x, %v; want 0x200, EFAULT", n, errName(err))
	}
	out := make([]byte, 0x400)
	if n, err := s.ReadAt(out, 0x5e00); n != 0x400 || err != nil {
		t.Fatalf("ReadAt = %#x, %v", n, err)
	}
	if !bytes.Equal(out, cat(in[:0x200], zeros(0x200))) {
		t.Fatal("read back differs")
	}
}
