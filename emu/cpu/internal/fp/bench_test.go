package fp

import "testing"

var (
	benchA = Ext80{Mant: 0xc90fdaa22168c235, SE: 0x4000} // pi
	benchB = Ext80{Mant: 0xadf85458a2bb4a9b, SE: 0x4000} // e
	sinkX  Ext80
	sinkU  uint64
	sinkF  uint32
)

// TestNoAllocs: the operations run per guest instruction, so none may
// allocate (DESIGN.md "The interpreter").
func TestNoAllocs(t *testing.T) {
	ops := map[string]func(){
		"Add80":    func() { sinkX, sinkF = Add80(benchA, benchB, 0x37f) },
		"Div80":    func() { sinkX, sinkF = Div80(benchA, benchB, 0x37f) },
		"Sqrt80":   func() { sinkX, sinkF = Sqrt80(benchA, 0x37f) },
		"Prem80":   func() { sinkX, _, _, sinkF = Prem80(benchA, benchB, 0x37f, true) },
		"ToBCD":    func() { _, sinkF = ToBCD(benchA, 0x37f) },
		"F64":      func() { sinkU, sinkF = Ext80ToF64(benchA, 0x37f) },
		"AddF64":   func() { sinkU, sinkF = AddF64(0x400921fb54442d18, 0x4005bf0a8b145769, 0x1f80) },
		"SqrtF32":  func() { _, sinkF = SqrtF32(0x40490fdb, 0x1f80) },
		"CmpF32":   func() { _, sinkF = CmpF32(0x40490fdb, 0x7fc00000, 9, 0x1f80) },
		"CvtInt":   func() { _, sinkF = F64ToInt(0x400921fb54442d18, 0x1f80, 64, false) },
		"Sin80":    func() { sinkX, _, sinkF = Sin80(benchA, 0x37f) },
		"Tan80":    func() { sinkX, _, sinkF = Tan80(benchA, 0x37f) },
		"Yl2x":     func() { sinkX, sinkF = Yl2x(benchA, benchB, 0x37f) },
		"Patan":    func() { sinkX, sinkF = Patan(benchA, benchB, 0x37f) },
		"F2xm1":    func() { sinkX, sinkF = F2xm1(Ext80{Mant: 0xc000000000000000, SE: 0x3ffe}, 0x37f) },
		"ArithF32": func() { sinkX, sinkF = ArithF32(OpDivr, benchA, 0x40490fdb, 0x37f) },
		"DotF32":   func() { _, sinkF = DotF32([4]uint32{1, 2, 3, 4}, [4]uint32{5, 6, 7, 8}, 0xff, 0x1f80) },
	}
	for name, f := range ops {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times", name, n)
		}
	}
}

func BenchmarkAdd80(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sinkX, sinkF = Add80(benchA, benchB, 0x37f)
	}
}

func BenchmarkMul80(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sinkX, sinkF = Mul80(benchA, benchB, 0x37f)
	}
}

func BenchmarkDiv80(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sinkX, sinkF = Div80(benchA, benchB, 0x37f)
	}
}

func BenchmarkSqrt80(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sinkX, sinkF = Sqrt80(benchA, 0x37f)
	}
}

func BenchmarkAddF64(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sinkU, sinkF = AddF64(0x400921fb54442d18, 0x4005bf0a8b145769, 0x1f80)
	}
}

func BenchmarkMulF32(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var r uint32
		r, sinkF = MulF32(0x40490fdb, 0x402df854, 0x1f80)
		sinkU = uint64(r)
	}
}

func BenchmarkDivF64(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sinkU, sinkF = DivF64(0x400921fb54442d18, 0x4005bf0a8b145769, 0x1f80)
	}
}

func BenchmarkSqrtF64(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sinkU, sinkF = SqrtF64(0x400921fb54442d18, 0x1f80)
	}
}

func BenchmarkSin80(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sinkX, _, sinkF = Sin80(benchA, 0x37f)
	}
}
