package fp

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// x87Unary checks a one-operand register instruction on ST(0) against op
// over the edge encodings and random operands, in every mode.
func x87Unary(t *testing.T, name string, code []byte, op func(a Ext80, cw uint16) (Ext80, uint32)) {
	needHost(t)
	r := rand.New(rand.NewPCG(2, uint64(code[1])))
	fails := 0
	check := func(a Ext80, cw uint16) {
		fx := x87Host(t, code, cw, a, Ext80{}, nil)
		got, fl := op(a, cw)
		got = x87Store(a, got, fl, cw)
		want, wsw := st(fx, 0), fx.SW()
		if (got != want || x87SW(fl, cw, 0) != wsw) && fails < 10 {
			fails++
			t.Errorf("%s(%s) cw %04x = %s sw %04x, host %s sw %04x", name,
				fmtExt(a), cw, fmtExt(got), x87SW(fl, cw, 0), fmtExt(want), wsw)
		}
	}
	for _, cw := range x87Modes() {
		for _, a := range extEdges {
			check(a, cw)
		}
	}
	for i := 0; i < cases(20000); i++ {
		a := randExt(r)
		if r.IntN(4) == 0 { // small magnitudes, where FRNDINT has work to do
			a.SE = a.SE&0x8000 | uint16(0x3fff-4+r.IntN(70))
			a.Mant |= 1 << 63
		}
		check(a, randCW(r))
	}
}

func TestX87Sqrt(t *testing.T) { x87Unary(t, "FSQRT", []byte{0xd9, 0xfa}, Sqrt80) }

func TestX87Rndint(t *testing.T) { x87Unary(t, "FRNDINT", []byte{0xd9, 0xfc}, RoundInt80) }

func TestX87Compare(t *testing.T) {
	needHost(t)
	type cmpop struct {
		name  string
		code  []byte
		quiet bool
		fl    bool // result in RFLAGS (FCOMI) rather than C3 C2 C0
	}
	ops := []cmpop{
		{"FCOM", []byte{0xd8, 0xd1}, false, false},
		{"FUCOM", []byte{0xdd, 0xe1}, true, false},
		{"FCOMI", []byte{0xdb, 0xf1}, false, true},
		{"FUCOMI", []byte{0xdb, 0xe9}, true, true},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, uint64(o.code[1])))
			fails := 0
			check := func(a, b Ext80, cw uint16) {
				fx, rf := x87HostFlags(t, o.code, cw, a, b, nil)
				var sw uint16
				var ef uint64
				var fl uint32
				if o.fl {
					ef, fl = CompareFlags80(a, b, o.quiet)
					sw = x87SWcc(fl, cw, 0, 0, 0)
				} else {
					var cc uint16
					cc, fl = Compare80(a, b, o.quiet)
					sw = x87SWcc(fl, cw, 0, cc, C0|C1|C2|C3)
				}
				if (sw != fx.SW() || ef != rf&0x8d5) && fails < 10 {
					fails++
					t.Errorf("%s(%s, %s) cw %04x = sw %04x rflags %x, host sw %04x rflags %x", o.name,
						fmtExt(a), fmtExt(b), cw, sw, ef, fx.SW(), rf&0x8d5)
				}
			}
			for _, cw := range x87Modes() {
				for _, a := range extEdges {
					for _, b := range extEdges {
						check(a, b, cw)
					}
				}
			}
			for i := 0; i < cases(20000); i++ {
				a, b := x87Operands(r)
				check(a, b, randCW(r))
			}
		})
	}
}

// x87StoreOp is a store from ST(0) to [RSI] (popping), of size bytes.
type x87StoreOp struct {
	name string
	code []byte
	size int
	op   func(a Ext80, cw uint16) (uint64, uint32)
}

func TestX87Stores(t *testing.T) {
	needHost(t)
	ops := []x87StoreOp{
		{"FSTP m32", []byte{0xd9, 0x1e}, 4, func(a Ext80, cw uint16) (uint64, uint32) {
			v, fl := Ext80ToF32(a, cw)
			return uint64(v), fl
		}},
		{"FSTP m64", []byte{0xdd, 0x1e}, 8, Ext80ToF64},
		{"FISTP m16", []byte{0xdf, 0x1e}, 2, intStore(16, false)},
		{"FISTP m32", []byte{0xdb, 0x1e}, 4, intStore(32, false)},
		{"FISTP m64", []byte{0xdf, 0x3e}, 8, intStore(64, false)},
		{"FISTTP m16", []byte{0xdf, 0x0e}, 2, intStore(16, true)},
		{"FISTTP m32", []byte{0xdb, 0x0e}, 4, intStore(32, true)},
		{"FISTTP m64", []byte{0xdd, 0x0e}, 8, intStore(64, true)},
	}
	sentinel := []byte{0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(4, uint64(o.code[1])*3+uint64(o.size)))
			fails := 0
			check := func(a Ext80, cw uint16) {
				fx := x87Host(t, o.code, cw, a, Ext80{}, sentinel)
				v, fl := o.op(a, cw)
				got := binary.LittleEndian.Uint64(sentinel)
				if fl&^uint32(cw)&0x1f == 0 {
					var b [8]byte
					binary.LittleEndian.PutUint64(b[:], v)
					copy(b[o.size:], sentinel)
					got = binary.LittleEndian.Uint64(b[:])
				}
				want := le64(fx.Mem[:])
				sw := x87SW(fl, cw, 0)
				if (got != want || sw != fx.SW()&^0x3800) && fails < 10 {
					fails++
					t.Errorf("%s(%s) cw %04x = %x sw %04x, host %x sw %04x", o.name,
						fmtExt(a), cw, got, sw, want, fx.SW())
				}
			}
			for _, cw := range x87Modes() {
				for _, a := range extEdges {
					check(a, cw)
				}
			}
			for i := 0; i < cases(20000); i++ {
				a := randExt(r)
				if o.name[1] == 'I' && r.IntN(2) == 0 { // integer range and its edges
					a.SE = a.SE&0x8000 | uint16(0x3fff-2+r.IntN(o.size*8+4))
					a.Mant |= 1 << 63
				}
				check(a, randCW(r))
			}
		})
	}
}

func intStore(size uint, trunc bool) func(a Ext80, cw uint16) (uint64, uint32) {
	return func(a Ext80, cw uint16) (uint64, uint32) {
		v, fl := ToInt80(a, cw, size, trunc)
		return uint64(v) & (^uint64(0) >> (64 - size)), fl
	}
}
