package cpu

import "testing"

// BenchmarkLoop runs the tight ALU loop guest (add/dec/jnz) and reports
// guest MIPS.
func BenchmarkLoop(b *testing.B) {
	c, _ := newGuest(b, loopGuest(0xffffffff))
	c.Run(1000)
	b.ResetTimer()
	start := c.Retired()
	for i := 0; i < b.N; i++ {
		if ex := c.Run(100000); ex.Reason != ExitBudget {
			b.Fatalf("exit %v", ex.Reason)
		}
	}
	n := c.Retired() - start
	b.ReportMetric(float64(n)/b.Elapsed().Seconds()/1e6, "MIPS")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/insn")
}

// aluGuest is a longer straight-line loop body (16 ALU instructions, like
// the dispatch probe's trace) so block dispatch cost is amortised.
func aluGuest() []byte {
	body := []byte{
		0x48, 0x01, 0xd8, // add rax, rbx
		0x48, 0x31, 0xc2, // xor rdx, rax
		0x48, 0x29, 0xd3, // sub rbx, rdx
		0x48, 0x09, 0xde, // or rsi, rbx
		0x48, 0x21, 0xf7, // and rdi, rsi
		0x48, 0xc1, 0xe0, 0x03, // shl rax, 3
		0x48, 0xc1, 0xea, 0x02, // shr rdx, 2
		0x48, 0x8d, 0x4b, 0x01, // lea rcx, [rbx+1]
		0x48, 0x83, 0xc0, 0x03, // add rax, 3
		0x48, 0x83, 0xf2, 0x55, // xor rdx, 0x55
		0x48, 0x6b, 0xc0, 0x03, // imul rax, rax, 3
		0x48, 0x8d, 0x58, 0xff, // lea rbx, [rax-1]
		0x48, 0x89, 0xc6, // mov rsi, rax
		0x48, 0x31, 0xdf, // xor rdi, rbx
		0x48, 0x83, 0xeb, 0x07, // sub rbx, 7
		0x48, 0xf7, 0xd0, // not rax
	}
	// loop: body; dec r8; jnz loop
	code := append([]byte{}, body...)
	code = append(code, 0x49, 0xff, 0xc8) // dec r8
	rel := -(len(code) + 2)
	code = append(code, 0x75, byte(rel)) // jnz
	return code
}

func BenchmarkALU(b *testing.B) {
	c, _ := newGuest(b, aluGuest())
	c.r[r8] = 1 << 62
	c.Run(1000)
	b.ResetTimer()
	start := c.Retired()
	for i := 0; i < b.N; i++ {
		if ex := c.Run(100000); ex.Reason != ExitBudget {
			b.Fatalf("exit %v at %#x", ex.Reason, ex.RIP)
		}
	}
	n := c.Retired() - start
	b.ReportMetric(float64(n)/b.Elapsed().Seconds()/1e6, "MIPS")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/insn")
}

// BenchmarkProt32Mem runs a 32-bit protected-mode loop of segment-checked
// loads, stores and pushes (the legacy-mode memory path, seg.go).
func BenchmarkProt32Mem(b *testing.B) {
	// l: mov eax, [ebx]; add eax, 1; mov [ebx], eax; push eax; pop edx; jmp l
	c, _ := newProt(b, []byte{0x8b, 0x03, 0x83, 0xc0, 0x01, 0x89, 0x03, 0x50, 0x5a, 0xeb, 0xf5})
	c.r[rBX] = dataBase
	c.Run(1000)
	b.ResetTimer()
	start := c.Retired()
	for i := 0; i < b.N; i++ {
		if ex := c.Run(100000); ex.Reason != ExitBudget {
			b.Fatalf("exit %v at %#x", ex.Reason, ex.RIP)
		}
	}
	n := c.Retired() - start
	b.ReportMetric(float64(n)/b.Elapsed().Seconds()/1e6, "MIPS")
}
