package fp

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

// isqrt128 against math/big on the ends of its domain, perfect squares and
// their neighbours, and random values.
func TestIsqrt128(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 20))
	check := func(nh, nl uint64) {
		n := new(big.Int).Lsh(new(big.Int).SetUint64(nh), 64)
		n.Or(n, new(big.Int).SetUint64(nl))
		want := new(big.Int).Sqrt(n)
		rem := new(big.Int).Sub(n, new(big.Int).Mul(want, want))
		got, rh, rl := isqrt128(nh, nl)
		grem := new(big.Int).Lsh(new(big.Int).SetUint64(rh), 64)
		grem.Or(grem, new(big.Int).SetUint64(rl))
		if got != want.Uint64() || grem.Cmp(rem) != 0 {
			t.Fatalf("isqrt128(%x:%x) = %x rem %x, want %x rem %x", nh, nl, got, grem, want, rem)
		}
	}
	check(1<<62, 0)
	check(^uint64(0), ^uint64(0))
	for i := 0; i < cases(100000); i++ {
		x := r.Uint64() | 1<<63
		if i%3 == 0 {
			x = ^uint64(0) - uint64(r.IntN(1000))
		}
		sh, sl := mul64(x, x)
		check(sh, sl)
		if sl != 0 {
			check(sh, sl-1)
		}
		check(sh, sl+1)
		check(r.Uint64()>>1|1<<62, r.Uint64())
	}
}

func mul64(a, b uint64) (uint64, uint64) {
	p := new(big.Int).Mul(new(big.Int).SetUint64(a), new(big.Int).SetUint64(b))
	lo := new(big.Int).And(p, new(big.Int).SetUint64(^uint64(0))).Uint64()
	return new(big.Int).Rsh(p, 64).Uint64(), lo
}
