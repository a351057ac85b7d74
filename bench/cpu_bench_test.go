// Package bench holds benchmarks that report guest MIPS.
package bench

import (
	"encoding/binary"
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

// newLongMode sets up bhyveload's long-mode state
// (reference/vmm-interface.md §14.1) through the public API only.
func newLongMode(b *testing.B, code []byte) *cpu.CPU {
	m := make(ram, 2<<20)
	for i := uint64(0); i < 512; i++ {
		binary.LittleEndian.PutUint64(m[0x2000+i*8:], 0x3000|7)
		binary.LittleEndian.PutUint64(m[0x3000+i*8:], 0x4000|7)
		binary.LittleEndian.PutUint64(m[0x4000+i*8:], i<<21|0x87)
	}
	copy(m[0x10000:], code)
	c := cpu.New(m, 0)
	for r, v := range map[int32]uint64{
		abi.VM_REG_GUEST_CR0: 0x80000021, abi.VM_REG_GUEST_CR4: 0x20, abi.VM_REG_GUEST_EFER: 0x500,
		abi.VM_REG_GUEST_CR3: 0x2000, abi.VM_REG_GUEST_RFLAGS: 2, abi.VM_REG_GUEST_RSP: 0x80000,
		abi.VM_REG_GUEST_RIP: 0x10000, abi.VM_REG_GUEST_CS: 8,
	} {
		if err := c.SetReg(r, v); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.SetDesc(abi.VM_REG_GUEST_CS, abi.SegDesc{Access: 0x209b}); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkCPULoop: mov ecx, -1; l: add rax, rcx; dec ecx; jnz l.
func BenchmarkCPULoop(b *testing.B) {
	c := newLongMode(b, []byte{0xb9, 0xff, 0xff, 0xff, 0xff, 0x48, 0x01, 0xc8, 0xff, 0xc9, 0x75, 0xf9, 0xf4})
	c.Run(1000)
	start := c.Retired()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if ex := c.Run(100_000); ex.Reason != cpu.ExitBudget {
			b.Fatalf("exit %v", ex.Reason)
		}
	}
	b.ReportMetric(float64(c.Retired()-start)/b.Elapsed().Seconds()/1e6, "MIPS")
}
