package fp

import (
	"math/rand/v2"
	"testing"
)

// FBLD of nibbles above 9 is undefined in the SDM; this host's answer is
// what FromBCD gives too (weights of 10 per nibble position).
func TestFbldInvalidDigits(t *testing.T) {
	needHost(t)
	r := rand.New(rand.NewPCG(7, 7))
	fails := 0
	for i := 0; i < cases(2000) && fails < 5; i++ {
		b := make([]byte, 10)
		for j := 0; j < 9; j++ {
			b[j] = byte(r.Uint32())
		}
		b[9] = byte(r.Uint32())
		fx := x87Host(t, []byte{0xdf, 0x26}, 0x37f, Ext80{}, Ext80{}, b)
		if got, want := FromBCD([10]byte(b)), st(fx, 0); got != want {
			fails++
			t.Errorf("FBLD(% x) = %s, host %s", b, fmtExt(got), fmtExt(want))
		}
	}
}
