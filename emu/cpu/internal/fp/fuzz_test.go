package fp

import "testing"

// Fuzz targets against the host: `go test -fuzz FuzzX87Arith` explores
// operands and control words beyond the generators (plain `go test` runs
// the seeds only).

func FuzzX87Arith(f *testing.F) {
	f.Add(uint8(0), uint64(1<<63), uint16(0x3fff), uint64(3<<62), uint16(0x4000), uint16(0x37f))
	f.Add(uint8(3), uint64(1), uint16(0), uint64(1<<63), uint16(0x3ffe), uint16(0x0c7f))
	f.Add(uint8(6), uint64(1<<62), uint16(0x7fff), uint64(0), uint16(0x8000), uint16(0x0040))
	f.Fuzz(func(t *testing.T, op uint8, am uint64, ase uint16, bm uint64, bse uint16, cw uint16) {
		if !hostexecAvailable() {
			t.Skip()
		}
		o := x87Binops[int(op)%len(x87Binops)]
		cw = cw&0x0f3f | 0x40 // no reserved bits; PC 01 is allowed
		a, b := Ext80{Mant: am, SE: ase}, Ext80{Mant: bm, SE: bse}
		fx := x87Host(t, o.code, cw, a, b, nil)
		got, fl := o.op(a, b, cw)
		got = x87Store(a, got, fl, cw)
		if got != st(fx, 0) || x87SW(fl, cw, 0) != fx.SW() {
			t.Errorf("%s(%s, %s) cw %04x = %s sw %04x, host %s sw %04x", o.name, fmtExt(a), fmtExt(b), cw,
				fmtExt(got), x87SW(fl, cw, 0), fmtExt(st(fx, 0)), fx.SW())
		}
	})
}

func FuzzSSEArith(f *testing.F) {
	f.Add(uint8(0), uint64(0x3f800000), uint64(0x00000001), uint32(0x1f80))
	f.Add(uint8(10), uint64(0x7ff0000000000001), uint64(0x8000000000000000), uint32(0x9fc0))
	f.Fuzz(func(t *testing.T, op uint8, a, b uint64, mx uint32) {
		if !hostexecAvailable() {
			t.Skip()
		}
		o := sseBinops[int(op)%len(sseBinops)]
		mx = mx&0xe040 | 0x1f80 // every exception masked
		mask := ^uint64(0)
		if o.f == f32 && o.name != "CVTSS2SD" {
			mask = 0xffffffff
		}
		if o.f == f32 {
			a = a&0xffffffff | 0x7ff8123400000000
			b &= 0xffffffff
		}
		h, hmx, _, _ := sseHost(t, o.code, mx, a, b, 0)
		got, fl := o.op(a, b, mx)
		if got&mask != h&mask || mx|fl != hmx {
			t.Errorf("%s(%x, %x) mxcsr %04x = %x mxcsr %04x, host %x mxcsr %04x", o.name, a&mask, b, mx, got&mask, mx|fl, h&mask, hmx)
		}
	})
}
