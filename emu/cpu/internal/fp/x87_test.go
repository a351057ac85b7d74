package fp

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// x87Binop is one two-operand register instruction: code computes ST(0)
// from ST(0)=a and ST(1)=b, op is the function under test.
type x87Binop struct {
	name string
	code []byte
	op   func(a, b Ext80, cw uint16) (Ext80, uint32)
}

var x87Binops = []x87Binop{
	{"FADD", []byte{0xd8, 0xc1}, Add80},
	{"FSUB", []byte{0xd8, 0xe1}, Sub80},
	{"FSUBR", []byte{0xd8, 0xe9}, func(a, b Ext80, cw uint16) (Ext80, uint32) { return Sub80(b, a, cw) }},
	{"FMUL", []byte{0xd8, 0xc9}, Mul80},
	{"FDIV", []byte{0xd8, 0xf1}, Div80},
	{"FDIVR", []byte{0xd8, 0xf9}, func(a, b Ext80, cw uint16) (Ext80, uint32) { return Div80(b, a, cw) }},
}

// x87Store applies the caller's rule the package doc states: an unmasked
// IE, DE or ZE leaves the destination as it was.
func x87Store(old, r Ext80, fl uint32, cw uint16) Ext80 {
	if fl&^uint32(cw)&(IE|DE|ZE) != 0 {
		return old
	}
	return r
}

func x87Operands(r *rand.Rand) (Ext80, Ext80) {
	a := randExt(r)
	if r.IntN(3) == 0 {
		return a, randNear(r, a)
	}
	return a, randExt(r)
}

func fmtExt(x Ext80) string { return fmt.Sprintf("%04x:%016x", x.SE, x.Mant) }

func TestX87Binops(t *testing.T) {
	needHost(t)
	for _, o := range x87Binops {
		t.Run(o.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(len(o.name))*7+uint64(o.code[1])))
			fails := 0
			n := cases(20000)
			for i := 0; i < n && fails < 10; i++ {
				a, b := x87Operands(r)
				cw := randCW(r)
				fx := x87Host(t, o.code, cw, a, b, nil)
				got, fl := o.op(a, b, cw)
				got = x87Store(a, got, fl, cw)
				want, wsw := st(fx, 0), fx.SW()
				if got != want || x87SW(fl, cw, 0) != wsw {
					fails++
					t.Errorf("%s(%s, %s) cw %04x = %s sw %04x, host %s sw %04x", o.name,
						fmtExt(a), fmtExt(b), cw, fmtExt(got), x87SW(fl, cw, 0), fmtExt(want), wsw)
				}
			}
		})
	}
}

// extEdges are the encodings every pairwise edge test crosses.
var extEdges = func() []Ext80 {
	var v []Ext80
	for _, s := range []uint16{0, 0x8000} {
		v = append(v,
			Ext80{SE: s},                                                 // zero
			Ext80{Mant: 1, SE: s},                                        // smallest denormal
			Ext80{Mant: 1<<63 - 1, SE: s},                                // largest denormal
			Ext80{Mant: 1 << 63, SE: s},                                  // pseudo-denormal
			Ext80{Mant: 1 << 63, SE: s | 1},                              // smallest normal
			Ext80{Mant: ^uint64(0), SE: s | 1},                           // just above
			Ext80{Mant: 1 << 63, SE: s | 0x3fff},                         // 1
			Ext80{Mant: 1<<63 | 1, SE: s | 0x3fff},                       // 1 + ulp
			Ext80{Mant: 0xc000000000000000, SE: s | 0x3fff},              // 1.5
			Ext80{Mant: 0xffffff8000000000, SE: s | 0x3ffe},              // PC24 halfway below 1
			Ext80{Mant: 0xfffffffffffffc00, SE: s | 0x3ffe},              // PC53 halfway below 1
			Ext80{Mant: ^uint64(0), SE: s | 0x7ffe},                      // largest
			Ext80{Mant: 1 << 63, SE: s | 0x7fff},                         // infinity
			Ext80{Mant: 0xc000000000000001, SE: s | 0x7fff},              // QNaN
			Ext80{Mant: 0xc000000000000002, SE: s | 0x7fff},              // QNaN, larger
			Ext80{Mant: 0x8000000000000001, SE: s | 0x7fff},              // SNaN
			Ext80{Mant: 0xc000000000000001&^(1<<62) | 2, SE: s | 0x7fff}, // SNaN, larger
			Ext80{Mant: 1 << 62, SE: s | 0x3fff},                         // unnormal
			Ext80{SE: s | 0x7fff},                                        // pseudo-infinity
			Ext80{Mant: 1 << 62, SE: s | 0x7fff},                         // pseudo-NaN
			Ext80{Mant: 1 << 63, SE: s | 0x3f81},                         // float32 smallest normal
			Ext80{Mant: 1 << 63, SE: s | 0x3c01},                         // float64 smallest normal
		)
	}
	return append(v, Indefinite)
}()

// x87Modes are the control words edge tests run under (all masked).
func x87Modes() []uint16 {
	var m []uint16
	for rc := uint16(0); rc < 4; rc++ {
		for _, pc := range []uint16{0, 2, 3} {
			if testing.Short() && (rc+pc)%3 != 0 {
				continue
			}
			m = append(m, 0x7f|rc<<10|pc<<8)
		}
	}
	return m
}

func TestX87BinopsEdges(t *testing.T) {
	needHost(t)
	for _, o := range x87Binops {
		t.Run(o.name, func(t *testing.T) {
			fails := 0
			for _, cw := range x87Modes() {
				for _, a := range extEdges {
					for _, b := range extEdges {
						fx := x87Host(t, o.code, cw, a, b, nil)
						got, fl := o.op(a, b, cw)
						want, wsw := st(fx, 0), fx.SW()
						if (got != want || x87SW(fl, cw, 0) != wsw) && fails < 10 {
							fails++
							t.Errorf("%s(%s, %s) cw %04x = %s sw %04x, host %s sw %04x", o.name,
								fmtExt(a), fmtExt(b), cw, fmtExt(got), x87SW(fl, cw, 0), fmtExt(want), wsw)
						}
					}
				}
			}
		})
	}
}
