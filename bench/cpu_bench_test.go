// Package bench holds the interpreter's speed floor (issue 3): three
// workloads with instruction counts known from their sources, each run to
// HLT in bhyveload's long-mode state, reporting guest MIPS. `make bench`
// runs them; `make bench-check` fails when one is under 50 MIPS.
package bench

import (
	"encoding/binary"
	"os"
	"testing"

	"softvmm/emu/abi"
	"softvmm/emu/cpu"
)

type ram []byte

func (r ram) Page(gpa uint64) ([]byte, int) {
	gpa &^= 4095
	if gpa+4096 > uint64(len(r)) {
		return nil, 0
	}
	return r[gpa : gpa+4096], abi.PROT_ALL
}

// workload is one testdata/*.bin guest and the number of instructions it
// retires from entry through its HLT, computed by hand from the loop
// structure written in its .S file (not measured by the interpreter).
type workload struct {
	name  string
	insns uint64
}

var workloads = []workload{
	{"alu", 3 + 6*1000000 + 1},
	{"copy", 1 + 20*(3+6*8192+2) + 1},
	{"call", 4 + 11*300000 + 1},
}

const entry = 0x10000

// newLongMode sets up bhyveload's long-mode state
// (reference/vmm-interface.md §14.1: 0-1 GiB identity-mapped with 2 MiB
// pages, CR0.PG, CR4.PAE, EFER.LME|LMA, a 64-bit CS) through the public
// API only, with the code at 0x10000 and the stack below 0x80000.
func newLongMode(tb testing.TB, code []byte) *cpu.CPU {
	m := make(ram, 4<<20)
	for i := uint64(0); i < 512; i++ {
		binary.LittleEndian.PutUint64(m[0x2000+i*8:], 0x3000|7)
		binary.LittleEndian.PutUint64(m[0x3000+i*8:], 0x4000|7)
		binary.LittleEndian.PutUint64(m[0x4000+i*8:], i<<21|0x87)
	}
	copy(m[entry:], code)
	c := cpu.New(m, 0)
	for _, r := range []struct {
		reg int32
		v   uint64
	}{
		{abi.VM_REG_GUEST_CR0, 0x80000021}, {abi.VM_REG_GUEST_CR4, 0x20}, {abi.VM_REG_GUEST_EFER, 0x500},
		{abi.VM_REG_GUEST_CR3, 0x2000}, {abi.VM_REG_GUEST_RFLAGS, 2}, {abi.VM_REG_GUEST_RSP, 0x80000},
		{abi.VM_REG_GUEST_RIP, entry}, {abi.VM_REG_GUEST_CS, 8},
	} {
		if err := c.SetReg(r.reg, r.v); err != nil {
			tb.Fatal(err)
		}
	}
	if err := c.SetDesc(abi.VM_REG_GUEST_CS, abi.SegDesc{Access: 0x209b}); err != nil {
		tb.Fatal(err)
	}
	return c
}

func load(tb testing.TB, w workload) *cpu.CPU {
	code, err := os.ReadFile("testdata/" + w.name + ".bin")
	if err != nil {
		tb.Fatal(err)
	}
	return newLongMode(tb, code)
}

// runOnce runs the workload from its entry to HLT and returns how many
// instructions it retired.
func runOnce(tb testing.TB, c *cpu.CPU) uint64 {
	if err := c.SetReg(abi.VM_REG_GUEST_RIP, entry); err != nil {
		tb.Fatal(err)
	}
	start := c.Retired()
	if ex := c.Run(1 << 40); ex.Reason != cpu.ExitHLT {
		tb.Fatalf("exit %v at rip %#x (%v)", ex.Reason, ex.RIP, ex.Err)
	}
	return c.Retired() - start
}

// TestWorkloadCounts: the interpreter retires exactly the instructions the
// sources say, so the MIPS figures below divide a known count, and a guest
// step costs no allocation once the code is decoded.
func TestWorkloadCounts(t *testing.T) {
	for _, w := range workloads {
		t.Run(w.name, func(t *testing.T) {
			c := load(t, w)
			if got := runOnce(t, c); got != w.insns {
				t.Fatalf("retired %d instructions, the source says %d", got, w.insns)
			}
			if testing.Short() {
				return
			}
			if a := testing.AllocsPerRun(2, func() { runOnce(t, c) }); a != 0 {
				t.Fatalf("%v allocations per run of %d instructions, want 0", a, w.insns)
			}
		})
	}
}

func BenchmarkWorkload(b *testing.B) {
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) {
			c := load(b, w)
			runOnce(b, c) // decode once
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				runOnce(b, c)
			}
			b.ReportMetric(float64(w.insns)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MIPS")
		})
	}
}
