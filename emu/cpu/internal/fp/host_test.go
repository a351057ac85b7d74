package fp

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// The oracle is the host CPU: each case runs the real instruction through
// hostexec.ExecFX with the operands in ST(0), ST(1) (or XMM0, XMM1, or the
// scratch memory RSI points at) and the control word or MXCSR set, and the
// test compares result and flags bit for bit.

// hostCases counts the host executions per top-level test, for the
// summary TestMain prints with -v (the report's case counts).
var hostCases = map[string]int{}

func execFX(t *testing.T, code []byte, s *hostexec.State, fx *hostexec.FX) error {
	name, _, _ := strings.Cut(t.Name(), "/")
	hostCases[name]++
	return hostexec.ExecFX(code, s, fx)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testing.Verbose() && hostexec.Available {
		// The behaviours pinned here are this host's; say whose.
		var s hostexec.State
		if hostexec.Exec([]byte{0x0f, 0xa2}, &s) == nil { // CPUID leaf 0
			v := make([]byte, 12)
			binary.LittleEndian.PutUint32(v, uint32(s.Regs[3]))
			binary.LittleEndian.PutUint32(v[4:], uint32(s.Regs[2]))
			binary.LittleEndian.PutUint32(v[8:], uint32(s.Regs[1]))
			fmt.Printf("host vendor %s\n", v)
		}
		names := make([]string, 0, len(hostCases))
		for n := range hostCases {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Printf("host cases %-26s %7d\n", n, hostCases[n])
		}
	}
	os.Exit(code)
}

func needHost(t *testing.T) {
	t.Helper()
	if !hostexec.Available {
		t.Skip("no native execution here")
	}
}

// cases is how many random cases each operation and mode gets.
func cases(full int) int {
	if testing.Short() {
		return full / 20
	}
	return full
}

// x87Host runs code with ST(0)=a, ST(1)=b (TOP=0, both valid), control word
// cw and a clear status word; mem is the scratch memory's initial bytes.
func x87Host(t *testing.T, code []byte, cw uint16, a, b Ext80, mem []byte) *hostexec.FX {
	t.Helper()
	fx, _ := x87HostFlags(t, code, cw, a, b, mem)
	return fx
}

// x87HostFlags is x87Host that also returns RFLAGS after the code.
func x87HostFlags(t *testing.T, code []byte, cw uint16, a, b Ext80, mem []byte) (*hostexec.FX, uint64) {
	t.Helper()
	fx := &hostexec.FX{}
	fx.SetCW(cw)
	fx.SetSW(x87Init)
	fx.SetMXCSR(0x1f80)
	fx.SetST(0, a.Mant, a.SE)
	fx.SetST(1, b.Mant, b.SE)
	copy(fx.Mem[:], mem)
	var s hostexec.State
	if err := execFX(t, code, &s, fx); err != nil {
		t.Fatal(err)
	}
	return fx, s.Flags
}

func st(fx *hostexec.FX, i int) Ext80 {
	m, se := fx.ST(i)
	return Ext80{Mant: m, SE: se}
}

// x87Init is the status word the host runs each case from: every
// condition code set, so a test sees which ones an instruction writes.
const x87Init = C0 | C1 | C2 | C3

// x87SW is the status word an instruction that writes only C1 leaves
// (from x87Init), given the flags and C1 an operation returned: ES and B
// are set when an unmasked exception is pending (SDM Vol. 1 §8.1.3).
func x87SW(fl uint32, cw uint16, top uint16) uint16 {
	return x87SWcc(fl, cw, top, uint16(fl)&C1, C1)
}

// x87SWcc is x87SW for an instruction that writes the condition codes in
// written, with values cc.
func x87SWcc(fl uint32, cw uint16, top uint16, cc, written uint16) uint16 {
	sw := uint16(fl)&0x3f | cc&written | x87Init&^written
	if sw&^cw&0x3f != 0 {
		sw |= 0x8080
	}
	return sw | top<<11
}

// Operand generators: a mix of edge encodings and random values, biased to
// the places where rounding, underflow and overflow decide the result.

var mantEdges = []uint64{
	1 << 63, ^uint64(0), 0xc000000000000000, 0x8000000000000001, 0xffffffffffffff00,
	0x8000008000000000, 0x8000018000000000, 0x8000000000000200, 0x8000000000000c00,
	0xfffffe8000000000, 0xfffffffffffff800, 0x8000000000000400, 0xffffff7fffffffff,
	0xaaaaaaaaaaaaaaaa, 0x5555555555555555, 0x7fffffffffffffff, 1, 0x0000000100000000,
}

func randMant(r *rand.Rand) uint64 {
	switch r.IntN(6) {
	case 0:
		return mantEdges[r.IntN(len(mantEdges))]
	case 1:
		// Ones or zeros around a rounding position of PC 24/53/64.
		pos := []uint{40, 39, 41, 11, 10, 12, 0, 1, 2}[r.IntN(9)]
		m := uint64(1)<<63 | r.Uint64()>>(64-pos)<<0
		if r.IntN(2) == 0 {
			m |= ^uint64(0) >> (64 - pos)
		} else {
			m &^= ^uint64(0) >> (64 - pos)
		}
		return m | 1<<63
	}
	return r.Uint64() | 1<<63
}

func randExp(r *rand.Rand) uint16 {
	switch r.IntN(8) {
	case 0:
		return uint16(r.IntN(0x7ffe)) + 1
	case 1:
		return uint16(1 + r.IntN(80)) // near the bottom of the extended range
	case 2:
		return uint16(0x7ffe - r.IntN(80)) // near the top
	case 3:
		// near the float32/float64 limits, for stores
		return uint16([]int{0x3fff - 126, 0x3fff + 127, 0x3fff - 1022, 0x3fff + 1023,
			0x3fff - 149, 0x3fff - 1074}[r.IntN(6)] + r.IntN(5) - 2)
	}
	return uint16(0x3fff + r.IntN(130) - 65)
}

func randExt(r *rand.Rand) Ext80 {
	s := uint16(r.IntN(2)) << 15
	switch r.IntN(24) {
	case 0:
		return Ext80{SE: s}
	case 1:
		return Ext80{Mant: r.Uint64() >> uint(1+r.IntN(63)), SE: s} // denormal
	case 2:
		return Ext80{Mant: 1 << 63, SE: s | 0x7fff} // infinity
	case 3:
		return Ext80{Mant: 3<<62 | r.Uint64()>>uint(2+r.IntN(62)), SE: s | 0x7fff} // QNaN
	case 4:
		return Ext80{Mant: 1<<63 | (r.Uint64()>>2 | 1), SE: s | 0x7fff} // SNaN
	case 5:
		return Indefinite
	case 6:
		// unsupported: unnormal, pseudo-NaN, pseudo-infinity, pseudo-denormal
		switch r.IntN(4) {
		case 0:
			return Ext80{Mant: r.Uint64() >> 1, SE: s | uint16(1+r.IntN(0x7ffe))}
		case 1:
			return Ext80{Mant: r.Uint64() >> 1, SE: s | 0x7fff}
		case 2:
			return Ext80{SE: s | 0x7fff}
		}
		return Ext80{Mant: r.Uint64() | 1<<63, SE: s}
	}
	return Ext80{Mant: randMant(r), SE: s | randExp(r)}
}

// randNear returns an operand close in exponent to a, for cancellation.
func randNear(r *rand.Rand, a Ext80) Ext80 {
	e := int(a.SE&0x7fff) + r.IntN(5) - 2
	if e <= 0 || e >= 0x7fff {
		return randExt(r)
	}
	m := a.Mant ^ r.Uint64()>>uint(r.IntN(64))
	return Ext80{Mant: m | 1<<63, SE: uint16(r.IntN(2))<<15 | uint16(e)}
}

// randCW is a control word with random rounding and precision, masks all
// set three times in four and random otherwise.
func randCW(r *rand.Rand) uint16 {
	cw := uint16(0x40) | uint16(r.IntN(4))<<10 | []uint16{0, 1, 2, 3}[r.IntN(4)]<<8
	if r.IntN(4) == 0 {
		return cw | uint16(r.IntN(64))
	}
	return cw | 0x3f
}

func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

func hostexecAvailable() bool { return hostexec.Available }
