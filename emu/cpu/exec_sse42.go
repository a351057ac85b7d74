package cpu

// SSE4.2: CRC32 and the string instructions PCMPESTRI/PCMPESTRM/
// PCMPISTRI/PCMPISTRM (SDM Vol. 2 §4.1, "Imm8 Control Byte Operation for
// PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM").

// crc32c is CRC32's step: the Castagnoli polynomial, bit-reflected, with
// no pre- or post-inversion (the instruction leaves those to software).
func crc32c(crc uint32, v uint64, n uint8) uint32 {
	for i := uint8(0); i < n; i++ {
		crc ^= uint32(uint8(v >> (8 * i)))
		for k := 0; k < 8; k++ {
			crc = crc>>1 ^ 0x82f63b78&-(crc&1)
		}
	}
	return crc
}

// hCrc32: in.d (in.sz 4 or 8) = crc32c(in.d, source of in.ssz bytes).
func hCrc32(c *CPU, in *insn) {
	var v uint64
	if in.mem {
		var ok bool
		if v, ok = c.read(c.ea(in), in.ssz); !ok {
			c.memFault(in)
			return
		}
	} else {
		v = c.getReg(in.s, in.ssz)
	}
	c.setReg(in.d, in.sz, uint64(crc32c(uint32(c.r[in.d&15]), v, in.ssz)))
	in.next.h(c, in.next)
}

// PCMPxSTRx kinds in in.ssz.
const (
	strExplicit = 1 << iota // lengths in EAX/EDX (PCMPESTRx)
	strMask                 // result to XMM0 (PCMPxSTRM), else index to ECX
	strW64                  // REX.W: lengths in RAX/RDX
)

// strLen is an explicit length: |v| saturated to n.
func strLen(v int64, n int) int {
	if v < 0 {
		v = -v
	}
	if v < 0 || v > int64(n) {
		return n
	}
	return int(v)
}

func hPcmpstr(c *CPU, in *insn) {
	if !c.sseOK(in) {
		return
	}
	var b x128
	if in.mem {
		var ok bool
		if b, ok = c.readN(c.ea(in), 16); !ok {
			c.memFault(in)
			return
		}
	} else {
		b = c.fpu.xmm[in.s&15]
	}
	a := c.fpu.xmm[in.d&15]
	imm := in.op
	words := imm&1 != 0
	signed := imm&2 != 0
	n := 16
	if words {
		n = 8
	}
	elem := func(v x128, i int) int64 {
		if words {
			if signed {
				return int64(int16(w16(v, i)))
			}
			return int64(w16(v, i))
		}
		if signed {
			return int64(int8(b8(v, i)))
		}
		return int64(b8(v, i))
	}
	var la, lb int
	if in.ssz&strExplicit != 0 {
		ra, rd := int64(int32(c.r[rAX])), int64(int32(c.r[rDX]))
		if in.ssz&strW64 != 0 {
			ra, rd = int64(c.r[rAX]), int64(c.r[rDX])
		}
		la, lb = strLen(ra, n), strLen(rd, n)
	} else {
		for la = 0; la < n && elem(a, la) != 0; la++ {
		}
		for lb = 0; lb < n && elem(b, lb) != 0; lb++ {
		}
	}
	var r1 uint32
	switch imm >> 2 & 3 {
	case 0: // equal any
		for j := 0; j < lb; j++ {
			for i := 0; i < la; i++ {
				if elem(a, i) == elem(b, j) {
					r1 |= 1 << uint(j)
					break
				}
			}
		}
	case 1: // ranges
		for j := 0; j < lb; j++ {
			for i := 0; i+1 < la; i += 2 {
				if elem(a, i) <= elem(b, j) && elem(b, j) <= elem(a, i+1) {
					r1 |= 1 << uint(j)
					break
				}
			}
		}
	case 2: // equal each
		for i := 0; i < n; i++ {
			va, vb := i < la, i < lb
			if va && vb && elem(a, i) == elem(b, i) || !va && !vb {
				r1 |= 1 << uint(i)
			}
		}
	default: // equal ordered
		for j := 0; j < n; j++ {
			t := true
			for k := 0; k < n-j && t; k++ {
				switch {
				case k >= la:
				case j+k >= lb:
					t = false
				default:
					t = elem(a, k) == elem(b, j+k)
				}
			}
			if t {
				r1 |= 1 << uint(j)
			}
		}
	}
	all := uint32(1)<<uint(n) - 1
	r2 := r1
	switch imm >> 4 & 3 {
	case 1:
		r2 = ^r1 & all
	case 3:
		r2 = r1 ^ (uint32(1)<<uint(lb) - 1)
	}
	if in.ssz&strMask != 0 {
		var m x128
		if imm&0x40 == 0 {
			m[0] = uint64(r2)
		} else {
			for i := 0; i < n; i++ {
				if r2>>uint(i)&1 != 0 {
					if words {
						setW16(&m, i, 0xffff)
					} else {
						setB8(&m, i, 0xff)
					}
				}
			}
		}
		c.fpu.xmm[0] = m
	} else {
		idx := n
		if r2 != 0 {
			if imm&0x40 == 0 {
				for idx = 0; r2>>uint(idx)&1 == 0; idx++ {
				}
			} else {
				for idx = n - 1; r2>>uint(idx)&1 == 0; idx-- {
				}
			}
		}
		c.r[rCX] = uint64(idx)
	}
	var f uint64
	if r2 != 0 {
		f |= flagCF
	}
	if lb < n {
		f |= flagZF
	}
	if la < n {
		f |= flagSF
	}
	if r2&1 != 0 {
		f |= flagOF
	}
	c.setFlags(flagsArith, f)
	in.next.h(c, in.next)
}
