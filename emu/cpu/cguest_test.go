package cpu

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

// TestCGuest runs testdata/cguest.bin (freestanding C, gcc -O2
// -mgeneral-regs-only -fcf-protection=full, built by testdata/Makefile)
// and compares its COM1 output with the same computations done in Go.
func TestCGuest(t *testing.T) {
	verifyDecoded(t) // output compared with the host build: what it ran counts for the ISA coverage report
	img, err := os.ReadFile("testdata/cguest.bin")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newGuest(t, img)
	var out strings.Builder
	for {
		ex := c.Run(10_000_000)
		if ex.Reason == ExitHLT {
			break
		}
		if ex.Reason != ExitInOut || ex.Port != 0x3f8 || ex.In || ex.Bytes != 1 {
			t.Fatalf("unexpected exit %+v (err %v) after output %q", ex, ex.Err, out.String())
		}
		out.WriteByte(byte(ex.EAX))
	}
	if got, want := out.String(), cguestExpected(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
	t.Logf("%d instructions", c.Retired())
}

func cguestExpected() string {
	var b strings.Builder
	var fib func(int) int
	fib = func(n int) int {
		if n < 2 {
			return n
		}
		return fib(n-1) + fib(n-2)
	}
	fmt.Fprintf(&b, "fib %d\n", fib(25))
	seed := uint64(12345)
	arr := make([]int64, 64)
	for i := range arr {
		seed = seed*6364136223846793005 + 1442695040888963407
		arr[i] = int64(seed>>33) - 1<<30
	}
	sort.Slice(arr, func(i, j int) bool { return arr[i] < arr[j] })
	var sum uint64
	for _, v := range arr {
		sum = sum*31 + uint64(v)
	}
	fmt.Fprintf(&b, "sort 1 %d\n", sum)
	a, d, big, m3 := int64(-1000000007), int64(37), int64(1)<<40, int64(-3)
	fmt.Fprintf(&b, "div %d %d %d %d\n", a/d, a%d, uint64(big)/uint64(d), big/m3)
	table := []int{10, 21, 32, 43, 54, 65, 76, 87}
	cs := 0
	for i := uint32(0); i < 100; i++ {
		cs += table[(i*2654435761)&7]
	}
	names := []string{"zero", "one", "two", "three", "four", "five", "six", "seven"}
	fmt.Fprintf(&b, "switch %d %s\n", cs, names[cs&7])
	b.WriteString("xxxxcopyxx\n")
	return b.String()
}

// BenchmarkCGuest runs the whole C guest (recursion, sorting, division,
// switch tables, byte loops, an OUT per output byte) and reports MIPS.
func BenchmarkCGuest(b *testing.B) { benchGuestImage(b, "testdata/cguest.bin") }

// benchGuestImage runs a COM1-printing guest image from a fresh copy of
// its memory each iteration, to HLT, and reports guest MIPS.
func benchGuestImage(b *testing.B, path string) {
	img, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	c, ram := newGuest(b, img)
	snapshot := append([]byte(nil), ram.b[:0x100000]...)
	var n uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		copy(ram.b, snapshot)
		c.code.init() // the copy rewrote the code pages under the decoded blocks
		c.rip, c.r[rSP] = codeBase, stackTop
		start := c.Retired()
		b.StartTimer()
		for {
			ex := c.Run(1 << 30)
			if ex.Reason == ExitHLT {
				break
			}
			if ex.Reason != ExitInOut {
				b.Fatalf("exit %v", ex.Reason)
			}
		}
		n += c.Retired() - start
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds()/1e6, "MIPS")
}
