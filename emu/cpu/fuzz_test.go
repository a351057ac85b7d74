package cpu

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
)

// FuzzInterp feeds random instruction bytes, registers and flags to the
// interpreter in each mode it runs (`make test` fuzzes it for 10 s; run
// `make fuzz FUZZTIME=10m` for longer) and checks the contract of Run
// (api.go): no Go panic escapes it, no internal error (a recovered panic,
// e.g. an index outside the host page PhysMem handed out, surfaces as
// ExitError), and it returns having retired no more than its budget.
// Guest memory is reached only through the 4 KiB slices testRAM.Page hands
// out, so an access outside guest RAM would be such a panic; a hang (a
// REP or loop the budget does not bound) stalls the fuzzer, which reports
// it. Each input also runs twice from the same state and must end the
// same way.

// fuzzModes set a fresh vCPU up for one mode. The modes of issue 3 that
// the interpreter does not run yet (real, 16/32-bit protected,
// compatibility) join this list as they land; their entries must leave
// the vCPU runnable, as long64 does.
var fuzzModes = []struct {
	name  string
	setup func(c *CPU)
}{
	{"long64", func(c *CPU) {}},
}

var fuzzEnv struct {
	sync.Mutex
	c    *CPU
	ram  *testRAM
	save CPU
	snap []byte
}

func FuzzInterp(f *testing.F) {
	for _, s := range [][]byte{
		{0x48, 0x01, 0xd8},       // add rax, rbx
		{0xf3, 0x48, 0xa5},       // rep movsq
		{0xf3, 0xa6},             // repe cmpsb
		{0x48, 0xf7, 0xf1},       // div rcx
		{0xc8, 0x10, 0x00, 0x05}, // enter 16, 5
		{0xd3, 0x13},             // rcl dword [rbx], cl
		{0x0f, 0xc7, 0x0b},       // cmpxchg8b [rbx]
		{0xcd, 0x80},             // int 0x80
		{0x0f, 0x01, 0xc8},       // monitor
		{0xff, 0xe0},             // jmp rax
		{0xeb, 0xfe},             // jmp $
		{0x0f, 0x05},             // syscall
		{0xe4, 0x80},             // in al, 0x80
	} {
		f.Add(uint8(0), s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, mode uint8, code []byte, seed uint64) {
		if len(code) > 64 {
			code = code[:64]
		}
		fuzzEnv.Lock()
		defer fuzzEnv.Unlock()
		if fuzzEnv.c == nil {
			fuzzEnv.c, fuzzEnv.ram = withHandlers(t, nil)
			fuzzEnv.save = *fuzzEnv.c
			fuzzEnv.snap = append([]byte(nil), fuzzEnv.ram.b...)
		}
		c, ram := fuzzEnv.c, fuzzEnv.ram
		// Each input runs twice from the same state: the outcome must be
		// the same (DESIGN.md "Determinism").
		var first [16]uint64
		var firstEx Exit
		var firstFl, firstRIP uint64
		for pass := 0; pass < 2; pass++ {
			*c = fuzzEnv.save
			c.FlushCaches()
			copy(ram.b, fuzzEnv.snap)
			copy(ram.b[codeBase:], code)
			rng := rand.New(rand.NewPCG(seed, uint64(len(code))))
			for i := range c.r {
				switch rng.IntN(3) {
				case 0:
					c.r[i] = dataBase + uint64(rng.IntN(0x1000))
				case 1:
					c.r[i] = edges[rng.IntN(len(edges))]
				default:
					c.r[i] = rng.Uint64()
				}
			}
			c.r[rSP] = stackTop - uint64(rng.IntN(64))*8
			c.setRflags(rng.Uint64()&(flagsArith|flagDF) | 2)
			fuzzModes[int(mode)%len(fuzzModes)].setup(c)
			const budget = 64
			before := c.Retired()
			ex := c.Run(budget)
			if ex.Reason == ExitError && !errors.Is(ex.Err, errMode) && !errors.Is(ex.Err, ErrEventMMIO) {
				t.Fatalf("% x: %v", code, ex.Err)
			}
			if c.Retired()-before > budget {
				t.Fatalf("% x: %d instructions retired on a budget of %d", code, c.Retired()-before, budget)
			}
			if ex.Reason == ExitBudget && c.Retired()-before != budget {
				t.Fatalf("% x: ExitBudget after %d of %d instructions", code, c.Retired()-before, budget)
			}
			ex.Insn, ex.Err = nil, nil
			if pass == 0 {
				first, firstEx, firstFl, firstRIP = c.r, ex, c.rflags(), c.rip
			} else if c.r != first || !exitEq(ex, firstEx) || c.rflags() != firstFl || c.rip != firstRIP {
				t.Fatalf("% x: two runs from the same state differ: %+v vs %+v", code, firstEx, ex)
			}
		}
	})
}
