package fp

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// The host computes the full tag word FNSTENV stores from FXRSTOR's
// abridged tags and the registers; FullTagWord must agree.
func TestFullTagWord(t *testing.T) {
	needHost(t)
	r := rand.New(rand.NewPCG(27, 27))
	for i := 0; i < cases(4000); i++ {
		top := uint16(r.IntN(8))
		fx := &hostexec.FX{}
		fx.SetCW(0x37f)
		fx.SetSW(top << 11)
		fx.SetMXCSR(0x1f80)
		var phys [8]Ext80
		for j := 0; j < 8; j++ {
			phys[j] = randExt(r)
			if i < len(extEdges) {
				phys[j] = extEdges[(i+j)%len(extEdges)]
			}
		}
		abr := uint8(r.Uint32())
		for s := 0; s < 8; s++ { // ST(s) is physical register (top+s)&7
			p := (int(top) + s) & 7
			o := hostexec.FXST0 + 16*s
			binary.LittleEndian.PutUint64(fx.Image[o:], phys[p].Mant)
			binary.LittleEndian.PutUint16(fx.Image[o+8:], phys[p].SE)
		}
		fx.Image[hostexec.FXFTW] = abr
		// fnstenv [rsi]: the 28-byte environment, FTW at byte 8.
		if err := execFX(t, []byte{0xd9, 0x36}, &hostexec.State{}, fx); err != nil {
			t.Fatal(err)
		}
		got := FullTagWord(abr, &phys)
		want := binary.LittleEndian.Uint16(fx.Mem[8:])
		if got != want {
			t.Fatalf("tags %08b top %d: FullTagWord %04x, host %04x", abr, top, got, want)
		}
		if AbridgedTag(want) != abr {
			t.Fatalf("AbridgedTag(%04x) = %08b, want %08b", want, AbridgedTag(want), abr)
		}
	}
}
