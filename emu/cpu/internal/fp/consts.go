package fp

// The x87 constants (FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2) are held to
// 128 bits here and rounded to 64 per the control word's rounding field,
// as processors since the 486 do (SDM Vol. 1 §8.3.8: only under round to
// nearest is the result the documented 64-bit constant); no flag is set.

// Constant selectors, in the order of their opcodes D9 E9..ED.
const (
	ConstL2T = iota // log2(10)
	ConstL2E        // log2(e)
	ConstPi
	ConstLG2 // log10(2)
	ConstLN2 // ln(2)
)

var x87Consts = [5]struct {
	hi, lo uint64
	exp    int32
}{
	{0xd49a784bcd1b8afe, 0x492bf6ff4dafdb4c, 1},
	{0xb8aa3b295c17f0bb, 0xbe87fed0691d3e88, 0},
	{0xc90fdaa22168c234, 0xc4c6628b80dc1cd1, 1},
	{0x9a209a84fbcff798, 0x8f8959ac0b7c9178, -2},
	{0xb17217f7d1cf79ab, 0xc9e3b39803f2f6af, -1},
}

// Const80 is FLDL2T, FLDL2E, FLDPI, FLDLG2 or FLDLN2 (which as above).
func Const80(which int, cw uint16) Ext80 {
	k := x87Consts[which]
	r := roundPack(false, k.exp, k.hi, k.lo, x87ctl64(cw))
	return r.ext(false)
}
