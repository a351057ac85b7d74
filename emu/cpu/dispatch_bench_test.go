package cpu

import "testing"

// Dispatch-shape measurement on real handlers (DESIGN.md "The
// interpreter"): the 16-instruction ALU loop body decoded once, then run
// (a) chained, each handler calling the next, as the interpreter does,
// and (b) from a central loop, each handler returning to it through a
// no-op successor. Both skip block lookup, so the difference is the
// dispatch shape alone.
func dispatchBlock(b *testing.B) (*CPU, *block) {
	c, _ := newGuest(b, aluGuest())
	c.r[r8] = 1 << 62
	c.Run(100)
	c.rip = codeBase
	blk := c.lookup()
	if blk == nil || blk.n < 16 {
		b.Fatalf("no block")
	}
	return c, blk
}

func BenchmarkDispatchChained(b *testing.B) {
	c, blk := dispatchBlock(b)
	// Stop before the loop's dec/jnz so only straight-line ALU runs.
	n := 16
	last := &blk.ins[n-1]
	last.next = &insn{h: func(*CPU, *insn) {}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		blk.ins[0].h(c, &blk.ins[0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/insn")
}

func BenchmarkDispatchLoop(b *testing.B) {
	c, blk := dispatchBlock(b)
	n := 16
	ret := &insn{h: func(*CPU, *insn) {}}
	ins := make([]insn, n)
	copy(ins, blk.ins[:n])
	for i := range ins {
		ins[i].next = ret
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range ins {
			ins[j].h(c, &ins[j])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/insn")
}
