package cpu

// AES-NI (AESENC, AESENCLAST, AESDEC, AESDECLAST, AESIMC,
// AESKEYGENASSIST; SDM Vol. 2 and FIPS-197). The state is the 16 bytes
// of the register, column-major (byte 4c+r is row r of column c). The
// S-boxes are computed at start-up from their definition (inverse in
// GF(2^8) then the affine map), so there is no table to mistype.

var aesSbox, aesInvSbox [256]byte

func init() {
	for x := 0; x < 256; x++ {
		var inv byte
		for y := 1; y < 256 && x != 0; y++ {
			if gmul(byte(x), byte(y)) == 1 {
				inv = byte(y)
				break
			}
		}
		s := inv
		for i := 1; i < 5; i++ {
			s ^= inv<<i | inv>>(8-i)
		}
		s ^= 0x63
		aesSbox[x] = s
		aesInvSbox[s] = byte(x)
	}
}

func xtime(a byte) byte { return a<<1 ^ 0x1b*(a>>7) }

func gmul(a, b byte) byte {
	var p byte
	for ; b != 0; b >>= 1 {
		if b&1 != 0 {
			p ^= a
		}
		a = xtime(a)
	}
	return p
}

func mixColumns(s *[16]byte, inv bool) {
	for c := 0; c < 4; c++ {
		a0, a1, a2, a3 := s[4*c], s[4*c+1], s[4*c+2], s[4*c+3]
		if inv {
			s[4*c] = gmul(a0, 14) ^ gmul(a1, 11) ^ gmul(a2, 13) ^ gmul(a3, 9)
			s[4*c+1] = gmul(a0, 9) ^ gmul(a1, 14) ^ gmul(a2, 11) ^ gmul(a3, 13)
			s[4*c+2] = gmul(a0, 13) ^ gmul(a1, 9) ^ gmul(a2, 14) ^ gmul(a3, 11)
			s[4*c+3] = gmul(a0, 11) ^ gmul(a1, 13) ^ gmul(a2, 9) ^ gmul(a3, 14)
		} else {
			s[4*c] = xtime(a0) ^ xtime(a1) ^ a1 ^ a2 ^ a3
			s[4*c+1] = a0 ^ xtime(a1) ^ xtime(a2) ^ a2 ^ a3
			s[4*c+2] = a0 ^ a1 ^ xtime(a2) ^ xtime(a3) ^ a3
			s[4*c+3] = xtime(a0) ^ a0 ^ a1 ^ a2 ^ xtime(a3)
		}
	}
}

// aesRound: op 0 AESENC, 1 AESENCLAST, 2 AESDEC, 3 AESDECLAST.
func aesRound(op int) xfn {
	return func(_ *CPU, _ *insn, d *x128, k x128) uint32 {
		in := toBytes(*d)
		var s [16]byte
		dec := op >= 2
		for c := 0; c < 4; c++ {
			for r := 0; r < 4; r++ {
				if dec {
					s[4*c+r] = aesInvSbox[in[4*((c-r+4)%4)+r]]
				} else {
					s[4*c+r] = aesSbox[in[4*((c+r)%4)+r]]
				}
			}
		}
		if op == 0 || op == 2 {
			mixColumns(&s, dec)
		}
		kb := toBytes(k)
		for i := range s {
			s[i] ^= kb[i]
		}
		*d = fromBytes(s)
		return 0
	}
}

func aesimc(_ *CPU, _ *insn, d *x128, s x128) uint32 {
	b := toBytes(s)
	mixColumns(&b, true)
	*d = fromBytes(b)
	return 0
}

func subWord(x uint32) uint32 {
	return uint32(aesSbox[x&0xff]) | uint32(aesSbox[x>>8&0xff])<<8 |
		uint32(aesSbox[x>>16&0xff])<<16 | uint32(aesSbox[x>>24])<<24
}

func aeskeygenassist(_ *CPU, in *insn, d *x128, s x128) uint32 {
	rcon := uint32(in.op)
	x1, x3 := subWord(d32(s, 1)), subWord(d32(s, 3))
	rot := func(x uint32) uint32 { return x>>8 | x<<24 }
	*d = x128{uint64(x1) | uint64(rot(x1)^rcon)<<32, uint64(x3) | uint64(rot(x3)^rcon)<<32}
	return 0
}
