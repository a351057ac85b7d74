package fp

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// The memory-operand x87 arithmetic forms (FADD m32fp, FIMUL m16int...)
// are a load and a register operation: the operand converted with
// F32ToExt80/F64ToExt80/FromInt64, its flags ORed with the operation's.
// This test pins that composition to the host, for the interpreter.
func TestX87MemoryOperands(t *testing.T) {
	needHost(t)
	type memop struct {
		name string
		code []byte
		size int
		fl   bool // float (else integer) operand
		op   Op
	}
	var ops []memop
	// D8 /r m32fp, DC /r m64fp, DA /r m32int, DE /r m16int; ModRM [rsi] = 0x06 | reg<<3.
	for _, form := range []struct {
		opc  byte
		size int
		fl   bool
	}{{0xd8, 4, true}, {0xdc, 8, true}, {0xda, 4, false}, {0xde, 2, false}} {
		for _, a := range []struct {
			name string
			op   Op
		}{{"ADD", OpAdd}, {"MUL", OpMul}, {"SUB", OpSub}, {"SUBR", OpSubr}, {"DIV", OpDiv}, {"DIVR", OpDivr}} {
			ops = append(ops, memop{a.name, []byte{form.opc, 0x06 | byte(a.op)<<3}, form.size, form.fl, a.op})
		}
	}
	r := rand.New(rand.NewPCG(18, 18))
	fails := 0
	for _, o := range ops {
		for i := 0; i < cases(3000); i++ {
			a := randExt(r)
			var m []byte
			var b string
			cw := randCW(r)
			var got Ext80
			var fl uint32
			switch {
			case o.fl && o.size == 4:
				m = randBits(r, 4, f32)
				got, fl = ArithF32(o.op, a, binary.LittleEndian.Uint32(m), cw)
			case o.fl:
				m = randBits(r, 8, f64)
				got, fl = ArithF64(o.op, a, binary.LittleEndian.Uint64(m), cw)
			default:
				m = make([]byte, 8)
				binary.LittleEndian.PutUint64(m, r.Uint64()>>uint(r.IntN(64)))
				m = m[:o.size]
				v := int64(int32(binary.LittleEndian.Uint32(append(m, 0, 0))))
				if o.size == 2 {
					v = int64(int16(binary.LittleEndian.Uint16(m)))
				}
				got, fl = ArithInt(o.op, a, v, cw)
			}
			b = fmt.Sprintf("% x", m)
			fx := x87Host(t, o.code, cw, a, Ext80{}, m)
			got = x87Store(a, got, fl, cw)
			if (got != st(fx, 0) || x87SW(fl, cw, 0) != fx.SW()) && fails < 10 {
				fails++
				t.Errorf("F%s m%d (% x) %s(%s, %s) cw %04x = %s sw %04x, host %s sw %04x", o.name, o.size*8, o.code,
					o.name, fmtExt(a), b, cw, fmtExt(got), x87SW(fl, cw, 0), fmtExt(st(fx, 0)), fx.SW())
			}
		}
	}
}

// FCOM m32fp/m64fp and FICOM m16int/m32int: Compare80 against the widened
// operand, with the load's DE added.
func TestX87CompareMemory(t *testing.T) {
	needHost(t)
	r := rand.New(rand.NewPCG(22, 22))
	fails := 0
	for _, form := range []struct {
		name string
		code []byte
		size int
		fl   bool
	}{{"FCOM m32", []byte{0xd8, 0x16}, 4, true}, {"FCOM m64", []byte{0xdc, 0x16}, 8, true},
		{"FICOM m32", []byte{0xda, 0x16}, 4, false}, {"FICOM m16", []byte{0xde, 0x16}, 2, false}} {
		for i := 0; i < cases(5000); i++ {
			a := randExt(r)
			var m []byte
			var cc uint16
			var fl uint32
			switch {
			case form.fl && form.size == 4:
				m = randBits(r, 4, f32)
				cc, fl = CompareF32(a, binary.LittleEndian.Uint32(m))
			case form.fl:
				m = randBits(r, 8, f64)
				cc, fl = CompareF64(a, binary.LittleEndian.Uint64(m))
			default:
				m = make([]byte, 8)
				binary.LittleEndian.PutUint64(m, r.Uint64()>>uint(r.IntN(64)))
				m = m[:form.size]
				v := int64(int32(binary.LittleEndian.Uint32(append(m, 0, 0))))
				if form.size == 2 {
					v = int64(int16(binary.LittleEndian.Uint16(m)))
				}
				cc, fl = CompareInt(a, v)
			}
			cw := randCW(r)
			fx := x87Host(t, form.code, cw, a, Ext80{}, m)
			sw := x87SWcc(fl, cw, 0, cc, C0|C1|C2|C3)
			if sw != fx.SW() && fails < 10 {
				fails++
				t.Errorf("%s(%s, % x) cw %04x = sw %04x, host %04x", form.name, fmtExt(a), m, cw, sw, fx.SW())
			}
		}
	}
}
