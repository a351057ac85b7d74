package fp

// Tag values of the full x87 tag word (SDM Vol. 1 §8.1.7, figure 8-7):
// FSAVE/FSTENV store them, FXSAVE keeps only valid/empty (the abridged
// tag) and FXRSTOR/FSTENV recompute the rest from the register contents.
const (
	TagValid   = 0
	TagZero    = 1
	TagSpecial = 2 // NaN, infinity, denormal, unsupported
	TagEmpty   = 3
)

// Tag80 classifies a non-empty register for the full tag word.
func Tag80(x Ext80) uint16 {
	switch x.class() {
	case clZero:
		return TagZero
	case clNormal:
		return TagValid
	}
	return TagSpecial
}

// FullTagWord rebuilds the full tag word from the abridged one (bit i set:
// physical register i is in use) and the physical registers R0-R7.
func FullTagWord(abridged uint8, phys *[8]Ext80) uint16 {
	var tw uint16
	for i := 0; i < 8; i++ {
		t := uint16(TagEmpty)
		if abridged>>uint(i)&1 != 0 {
			t = Tag80(phys[i])
		}
		tw |= t << (2 * uint(i))
	}
	return tw
}

// AbridgedTag is FXSAVE's tag byte for a full tag word.
func AbridgedTag(tw uint16) uint8 {
	var a uint8
	for i := 0; i < 8; i++ {
		if tw>>(2*uint(i))&3 != TagEmpty {
			a |= 1 << uint(i)
		}
	}
	return a
}
