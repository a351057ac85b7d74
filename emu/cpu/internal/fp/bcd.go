package fp

// Packed BCD (FBLD, FBSTP): 18 decimal digits, two per byte from the least
// significant in byte 0, and the sign in bit 7 of byte 9 (SDM Vol. 1
// §4.7, figure 4-10).

// BCDIndefinite is what a masked invalid FBSTP stores (SDM Vol. 1 table 4-5).
var BCDIndefinite = [10]byte{7: 0xc0, 8: 0xff, 9: 0xff}

const bcdMax = 999999999999999999

// FromBCD is FBLD: exact. Nibbles above 9 are outside the architecture
// (their result is undefined); they are weighted like any digit.
func FromBCD(b [10]byte) Ext80 {
	var v uint64
	for i := 8; i >= 0; i-- {
		v = v*100 + uint64(b[i]>>4)*10 + uint64(b[i]&15)
	}
	return fromUint(b[9]&0x80 != 0, v)
}

// ToBCD is FBSTP: round per cw's rounding control to an integer of at
// most 18 digits; NaNs, infinities and larger values give IE and the BCD
// indefinite.
func ToBCD(a Ext80, cw uint16) ([10]byte, uint32) {
	var out [10]byte
	u := a.unpack()
	var q uint64
	var fl uint32
	switch u.cl {
	case clZero:
	case clNormal, clDenormal:
		if u.exp >= 60 {
			return BCDIndefinite, IE
		}
		var inexact, up bool
		q, inexact, up = roundToInt(u, uint8(cw>>10)&3)
		if q > bcdMax {
			return BCDIndefinite, IE
		}
		if inexact {
			fl |= PE
		}
		if up {
			fl |= C1
		}
	default:
		return BCDIndefinite, IE
	}
	for i := 0; i < 9; i++ {
		out[i] = byte(q%10) | byte(q/10%10)<<4
		q /= 100
	}
	if u.neg {
		out[9] = 0x80
	}
	return out, fl
}
