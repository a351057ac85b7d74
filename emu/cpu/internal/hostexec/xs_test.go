package hostexec

import "testing"

// ExecXS gives the code a 1536-byte block: an XSAVE of the SSE component
// at RSI+0x380 lands beyond FX's 256 bytes, 64-byte aligned, and the
// bytes the code does not write come back as they went in.
func TestExecXS(t *testing.T) {
	if !Available {
		t.Skip("no native execution here")
	}
	xs := &XS{}
	put16(xs.Image[FXFCW:], 0x037f)
	put32(xs.Image[FXMXCSR:], 0x1f80)
	put64(xs.Image[FXXMM0+16*5:], 0x0123456789abcdef)
	xs.Mem[1535] = 0x5a
	// mov $2,%eax; xor %edx,%edx; xsave64 0x380(%rsi)
	code := []byte{0xb8, 2, 0, 0, 0, 0x31, 0xd2, 0x48, 0x0f, 0xae, 0xa6, 0x80, 0x03, 0, 0}
	if err := ExecXS(code, &State{}, xs); err != nil {
		t.Fatal(err)
	}
	if got := le64(xs.Mem[0x380+FXXMM0+16*5:]); got != 0x0123456789abcdef {
		t.Errorf("XMM5 saved as %#x", got)
	}
	if got := le64(xs.Mem[0x380+512:]); got != 2 {
		t.Errorf("XSTATE_BV %#x, want 2 (SSE in use)", got)
	}
	if le16(xs.Mem[0x380:]) != 0 || xs.Mem[1535] != 0x5a {
		t.Error("bytes outside the SSE component changed")
	}
	if got := le64(xs.Image[FXXMM0+16*5:]); got != 0x0123456789abcdef {
		t.Errorf("XMM5 after the run %#x", got)
	}
}
