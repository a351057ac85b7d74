package hostexec

// FX is the floating-point state ExecFX loads before the code runs and
// stores after it, plus a scratch memory block for memory operands.
//
// Image is in the 64-bit FXSAVE layout (Intel SDM Vol. 1 §10.5.1, table
// 10-2): FCW at 0, FSW at 2, the abridged tag byte at 4, MXCSR at 24,
// ST(i) at 32+16*i (in stack order, 10 bytes each), XMMi at 160+16*i.
// MXCSR bits outside 0xffff are cleared before loading, since FXRSTOR
// faults on them.
//
// Mem is copied to memory the code can address through RSI: ExecFX loads
// RSI with the address of that copy (State.Regs[6] is ignored on entry)
// and copies it back after the code has run.
//
// The host's own x87/SSE state is saved before and restored after, so the
// Go runtime never sees the test's rounding mode, masks or registers.
// Unmasked x87 exceptions are fine (they stay pending in the stored FSW,
// FXSAVE does not deliver them); unmasked SSE exceptions fault at once
// and kill the process, so tests keep MXCSR's masks set.
type FX struct {
	Image [512]byte
	Mem   [256]byte
}

// Offsets into FX.Image.
const (
	FXFCW   = 0
	FXFSW   = 2
	FXFTW   = 4
	FXMXCSR = 24
	FXST0   = 32
	FXXMM0  = 160
)

// CW returns the x87 control word.
func (f *FX) CW() uint16 { return le16(f.Image[FXFCW:]) }

// SetCW sets the x87 control word.
func (f *FX) SetCW(v uint16) { put16(f.Image[FXFCW:], v) }

// SW returns the x87 status word.
func (f *FX) SW() uint16 { return le16(f.Image[FXFSW:]) }

// SetSW sets the x87 status word (including TOP in bits 11-13).
func (f *FX) SetSW(v uint16) { put16(f.Image[FXFSW:], v) }

// MXCSR returns the SSE control and status register.
func (f *FX) MXCSR() uint32 { return le32(f.Image[FXMXCSR:]) }

// SetMXCSR sets the SSE control and status register.
func (f *FX) SetMXCSR(v uint32) { put32(f.Image[FXMXCSR:], v) }

// ST returns ST(i) as its 64-bit significand and sign/exponent word.
func (f *FX) ST(i int) (mant uint64, se uint16) {
	o := FXST0 + 16*i
	return le64(f.Image[o:]), le16(f.Image[o+8:])
}

// SetST sets ST(i) and marks it valid in the abridged tag byte, taking TOP
// from the status word already in the image (so set the SW first).
func (f *FX) SetST(i int, mant uint64, se uint16) {
	o := FXST0 + 16*i
	put64(f.Image[o:], mant)
	put16(f.Image[o+8:], se)
	top := int(f.SW()>>11) & 7
	f.Image[FXFTW] |= 1 << uint((top+i)&7)
}

// Valid reports whether ST(i) is tagged non-empty.
func (f *FX) Valid(i int) bool {
	top := int(f.SW()>>11) & 7
	return f.Image[FXFTW]&(1<<uint((top+i)&7)) != 0
}

// XMM returns the low and high quadwords of XMMi.
func (f *FX) XMM(i int) (lo, hi uint64) {
	o := FXXMM0 + 16*i
	return le64(f.Image[o:]), le64(f.Image[o+8:])
}

// SetXMM sets XMMi.
func (f *FX) SetXMM(i int, lo, hi uint64) {
	o := FXXMM0 + 16*i
	put64(f.Image[o:], lo)
	put64(f.Image[o+8:], hi)
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func le32(b []byte) uint32 { return uint32(le16(b)) | uint32(le16(b[2:]))<<16 }
func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }
func put16(b []byte, v uint16) {
	b[0] = byte(v)
	b[1] = byte(v >> 8)
}
func put32(b []byte, v uint32) {
	put16(b, uint16(v))
	put16(b[2:], uint16(v>>16))
}
func put64(b []byte, v uint64) {
	put32(b, uint32(v))
	put32(b[4:], uint32(v>>32))
}
