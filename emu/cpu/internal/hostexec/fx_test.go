package hostexec

import "testing"

func TestExecFX(t *testing.T) {
	if !Available {
		t.Skip("no native execution here")
	}
	fx := &FX{}
	fx.SetCW(0x037f)
	fx.SetSW(0)
	fx.SetMXCSR(0x1f80)
	fx.SetST(0, 1<<63, 0x3fff) // 1.0
	fx.SetST(1, 3<<62, 0x4000) // 3.0
	fx.SetXMM(2, 0x3ff0000000000000, 0)
	fx.SetXMM(3, 0x4008000000000000, 0)
	// fdivr st0, st1 (st0 = 3/1); fstp qword [rsi]; divsd xmm2, xmm3; stmxcsr [rsi+8]
	code := []byte{0xd8, 0xf9, 0xdd, 0x1e, 0xf2, 0x0f, 0x5e, 0xd3, 0x0f, 0xae, 0x5e, 0x08}
	st := &State{}
	if err := ExecFX(code, st, fx); err != nil {
		t.Fatal(err)
	}
	if got := le64(fx.Mem[:]); got != 0x4008000000000000 {
		t.Errorf("fstp stored %#x, want 3.0", got)
	}
	if lo, _ := fx.XMM(2); lo != 0x3fd5555555555555 {
		t.Errorf("divsd gave %#x, want 1/3", lo)
	}
	if got := le32(fx.Mem[8:]); got != 0x1fa0 {
		t.Errorf("stmxcsr %#x, want PE set", got)
	}
	if fx.MXCSR() != 0x1fa0 {
		t.Errorf("saved MXCSR %#x", fx.MXCSR())
	}
	if sw := fx.SW(); sw>>11&7 != 1 {
		t.Errorf("TOP after fstp = %d, want 1 (sw %#x)", sw>>11&7, sw)
	}
	// The host's state came back: Go floating point still rounds to nearest.
	x, y := 1.0, 3.0
	if x/y != 0.3333333333333333 {
		t.Error("host MXCSR not restored")
	}
}
