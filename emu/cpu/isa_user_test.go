package cpu

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// User-mode general-purpose rows of 32- and 16-bit mode that the
// row-driven differential (isadiff_test.go) cannot reach because their
// legacy encoding has no 64-bit twin with the same bytes: the one-byte
// INC/DEC r16/r32 (40+r, 48+r are REX prefixes in 64-bit mode), the
// moffs forms and memory operands with 16-bit addressing, rows whose
// operand size in 16-bit code is not what legacyCode's 66 toggle gives
// (no-operand rows, CRC32 r32, r/m8, MOVNTI, CMPXCHG8B), and LEA and
// XLATB with 16-bit addresses (issue 3, "Oracles and reports").
//
// The oracle is the host CPU (hostexec.ExecFull): each case pairs the
// legacy-mode encoding the guest runs with a 64-bit encoding of the same
// operation at the same operand size (an operation at a given operand
// size computes the same in every mode, SDM Vol. 1 §3.6), run from the
// same registers, flags and memory. The guest's DS base is
// hostexec.WindowBase, so a guest offset off and the host address
// WindowBase+off hold the same bytes; the host encodings add WindowBase
// as a 32-bit displacement (or take the absolute address, for moffs) so
// that both sides start from the same register values.

// userDataOff is the offset of the data the memory cases use in DS and
// in SS (below 64 KiB, so 16-bit offsets reach it); the runner fills both
// blocks with random bytes before each run. The guest's SS starts
// userSSOff into the window, so that a BP-based 16-bit address that used
// DS would read other bytes.
const (
	userDataOff = 0x8000
	userDataLen = 0x200
	userSSOff   = 0x10000
)

// userCase is one legacy encoding and its host twin.
type userCase struct {
	name  string
	guest []byte // the legacy-mode encoding
	host  []byte // a 64-bit encoding of the same operation
	// in constrains the random inputs (address registers, operands
	// taken from memory); mem is the window.
	in func(rng *rand.Rand, st *hostexec.FullState, mem []byte)
	// bias is added to the host's input registers and subtracted from
	// its results: for implicit addresses (XLATB's BX) that the host
	// cannot offset by a displacement.
	bias  [8]uint64
	undef uint64 // flags the SDM leaves undefined
	// bothZF: the inputs must reach both outcomes (host ZF set and
	// clear), as CMPXCHG8B's comparison must.
	bothZF bool
}

// userGuest is a 32- or 16-bit protected-mode vCPU (branchGuest) whose DS
// starts at hostexec.WindowBase (limit 64 KiB in 16-bit mode, 4 GiB in
// 32-bit mode).
type userGuest struct {
	mode  int
	c     *CPU
	ram   *testRAM
	at    uint64
	save  CPU
	image []byte
	in    []byte // window contents before a run
	out   []byte // the host's window after it
}

func newUserGuest(t *testing.T, mode int) *userGuest {
	c, ram, at := branchGuest(t, mode)
	lim := uint32(0xffffffff)
	if mode == 16 {
		lim = 0xffff
	}
	c.seg[segDS] = seg{sel: selData32, base: hostexec.WindowBase, limit: lim, access: 0x93}
	c.seg[segSS] = seg{sel: selData32, base: hostexec.WindowBase + userSSOff, limit: lim, access: 0x93 | c.seg[segSS].access&segDB}
	g := &userGuest{mode: mode, c: c, ram: ram, at: at, save: *c, image: make([]byte, 4096),
		in: make([]byte, hostexec.WindowSize), out: make([]byte, hostexec.WindowSize)}
	probe := hostexec.FullState{}
	if err := hostexec.ExecFull([]byte{0x90}, &probe, g.out, g.image); err != nil {
		t.Skip(err)
	}
	return g
}

// userInput is a random register file (32-bit values, edges often) and
// random arithmetic flags and DF.
func userInput(rng *rand.Rand) hostexec.FullState {
	var st hostexec.FullState
	for i := 0; i < 8; i++ {
		switch rng.IntN(3) {
		case 0:
			st.Regs[i] = edges[rng.IntN(len(edges))] & 0xffffffff
		default:
			st.Regs[i] = uint64(rng.Uint32())
		}
	}
	st.Flags = rng.Uint64() & (arithFlags | flagDF)
	return st
}

// run runs n random inputs of uc in the guest and on the host and
// reports the first differences; it returns true when every run agreed.
func (g *userGuest) run(t *testing.T, uc *userCase, n int, rng *rand.Rand) bool {
	t.Helper()
	c := g.c
	fails := 0
	var zf [2]int
	for i := 0; i < n && fails < 3; i++ {
		st := userInput(rng)
		for j := userDataOff; j < userDataOff+userDataLen; j++ {
			g.in[j], g.in[userSSOff+j] = byte(rng.Uint32()), byte(rng.Uint32())
		}
		if uc.in != nil {
			uc.in(rng, &st, g.in)
		}
		copy(g.ram.b[hostexec.WindowBase:], g.in)
		if err := g.exec(uc.guest, &st); err != "" {
			t.Errorf("%d-bit %s (% x): %s", g.mode, uc.name, uc.guest, err)
			return false
		}
		nat := st
		for r := 0; r < 8; r++ {
			nat.Regs[r] += uc.bias[r]
		}
		copy(g.out, g.in)
		if err := hostexec.ExecFull(uc.host, &nat, g.out, g.image); err != nil {
			t.Fatal(err)
		}
		zf[b2u(nat.Flags&flagZF != 0)]++
		var diffs []string
		for r := 0; r < 8; r++ {
			if h := uint32(nat.Regs[r] - uc.bias[r]); h != uint32(c.r[r]) {
				diffs = append(diffs, fmt.Sprintf("r%d host %#x interp %#x", r, h, uint32(c.r[r])))
			}
		}
		mask := uint64(arithFlags|flagDF) &^ uc.undef
		if (c.rflags()^nat.Flags)&mask != 0 {
			diffs = append(diffs, fmt.Sprintf("flags host %#x interp %#x", nat.Flags&mask, c.rflags()&mask))
		}
		if gm := g.ram.b[hostexec.WindowBase : hostexec.WindowBase+hostexec.WindowSize]; !bytes.Equal(gm, g.out) {
			for j := range gm {
				if gm[j] != g.out[j] {
					diffs = append(diffs, fmt.Sprintf("window+%#x host % x interp % x", j, g.out[j:j+8], gm[j:j+8]))
					break
				}
			}
		}
		if len(diffs) > 0 {
			fails++
			var in strings.Builder
			for r := 0; r < 8; r++ {
				fmt.Fprintf(&in, "r%d=%#x ", r, st.Regs[r])
			}
			t.Errorf("%d-bit %s (% x; host % x): %s\n  in %sfl=%#x", g.mode, uc.name, uc.guest, uc.host, strings.Join(diffs, "; "), in.String(), st.Flags)
		}
	}
	if uc.bothZF && fails == 0 && (zf[0] == 0 || zf[1] == 0) {
		t.Errorf("%d-bit %s: host ZF clear %d times, set %d times: one outcome untested", g.mode, uc.name, zf[0], zf[1])
		return false
	}
	return fails == 0
}

// exec runs code once in the guest from the registers and flags of st
// (the window is the caller's) and reports how it failed to reach the
// HLT after it, or "".
func (g *userGuest) exec(code []byte, st *hostexec.FullState) string {
	c := g.c
	*c = g.save
	c.FlushCaches()
	copy(g.ram.b[g.at:], code)
	g.ram.b[g.at+uint64(len(code))] = 0xf4
	for r := 0; r < 8; r++ {
		c.r[r] = st.Regs[r]
	}
	c.setRflags(st.Flags | 2)
	c.rip = g.at
	if ex := c.Run(10); ex.Reason != ExitHLT || ex.RIP != g.at+uint64(len(code)) {
		return fmt.Sprintf("exit %v at %#x (err %v), want HLT after the instruction", ex.Reason, ex.RIP, ex.Err)
	}
	return ""
}

func le32(v uint64) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }

// osz is the operand-size prefix that selects size bits in mode (16 or
// 32 in legacy code, or 64 for the host's 64-bit code).
func osz(mode, bits int) []byte {
	if (bits == 16) != (mode == 16) {
		return []byte{0x66}
	}
	return nil
}

// atData points register r at a random offset in the data block (8-byte
// room left), for [r] operands.
func atData(r int) func(*rand.Rand, *hostexec.FullState, []byte) {
	return func(rng *rand.Rand, st *hostexec.FullState, _ []byte) {
		st.Regs[r] = userDataOff + uint64(rng.IntN(userDataLen-8))
	}
}

// userRegCases are the register-only cases of mode: the one-byte INC/DEC
// against FF /0 and FF /1, the flag instructions, CRC32 r32, r/m8/16/32.
func userRegCases(mode int) []userCase {
	var cs []userCase
	for _, bits := range []int{16, 32} {
		for r := byte(0); r < 8; r++ {
			cs = append(cs,
				userCase{name: fmt.Sprintf("inc r%d/%d", r, bits), guest: cat(osz(mode, bits), []byte{0x40 + r}), host: cat(osz(64, bits), []byte{0xff, 0xc0 + r})},
				userCase{name: fmt.Sprintf("dec r%d/%d", r, bits), guest: cat(osz(mode, bits), []byte{0x48 + r}), host: cat(osz(64, bits), []byte{0xff, 0xc8 + r})})
		}
		// CRC32 r32, r/m16 and r/m32 (F1): the operand size picks the
		// source width, the destination is r32 either way.
		cs = append(cs, userCase{name: fmt.Sprintf("crc32 r32, r/m%d", bits), guest: cat(osz(mode, bits), []byte{0xf2, 0x0f, 0x38, 0xf1, 0xd3}),
			host: cat(osz(64, bits), []byte{0xf2, 0x0f, 0x38, 0xf1, 0xd3})})
		// CRC32 r32, r/m8 (F0) at either operand size: 66 does not
		// change it (the host agrees in both forms).
		cs = append(cs, userCase{name: fmt.Sprintf("crc32 r32, r/m8 o%d", bits), guest: cat(osz(mode, bits), []byte{0xf2, 0x0f, 0x38, 0xf0, 0xd3}),
			host: cat(osz(64, bits), []byte{0xf2, 0x0f, 0x38, 0xf0, 0xd3})},
			userCase{name: fmt.Sprintf("crc32 r32, ah o%d", bits), guest: cat(osz(mode, bits), []byte{0xf2, 0x0f, 0x38, 0xf0, 0xcc}),
				host: cat(osz(64, bits), []byte{0xf2, 0x0f, 0x38, 0xf0, 0xcc})})
	}
	for _, op := range []struct {
		name string
		b    byte
	}{{"cld", 0xfc}, {"std", 0xfd}, {"cmc", 0xf5}, {"clc", 0xf8}, {"stc", 0xf9}, {"lahf", 0x9f}, {"sahf", 0x9e}} {
		cs = append(cs, userCase{name: op.name, guest: []byte{op.b}, host: []byte{op.b}})
	}
	return cs
}

// userMemCases are the memory cases of mode: moffs loads and stores,
// MOVBE, MOVNTI, CRC32 r32, m8, CMPXCHG8B (both outcomes) and XLATB.
func userMemCases(mode int) []userCase {
	wb := uint64(hostexec.WindowBase)
	// [bx] (16-bit addressing) or [ebx] in the guest, [rbx+WindowBase]
	// on the host; reg is the ModRM reg field.
	gm := func(reg byte) byte {
		if mode == 16 {
			return 0x07 | reg<<3
		}
		return 0x03 | reg<<3
	}
	hm := func(reg byte) []byte { return cat([]byte{0x83 | reg<<3}, le32(wb)) }
	// moffs: a 16- or 32-bit offset in the guest, an absolute 32-bit
	// address (67) on the host.
	moff := func(off uint64) []byte {
		if mode == 16 {
			return binary.LittleEndian.AppendUint16(nil, uint16(off))
		}
		return le32(off)
	}
	var cs []userCase
	off := uint64(userDataOff + 0x13)
	cs = append(cs,
		userCase{name: "mov al, moffs8", guest: cat([]byte{0xa0}, moff(off)), host: cat([]byte{0x67, 0xa0}, le32(wb+off))},
		userCase{name: "mov moffs8, al", guest: cat([]byte{0xa2}, moff(off)), host: cat([]byte{0x67, 0xa2}, le32(wb+off))})
	for _, bits := range []int{16, 32} {
		cs = append(cs,
			userCase{name: fmt.Sprintf("mov ax, moffs%d", bits), guest: cat(osz(mode, bits), []byte{0xa1}, moff(off)), host: cat(osz(64, bits), []byte{0x67, 0xa1}, le32(wb+off))},
			userCase{name: fmt.Sprintf("mov moffs%d, ax", bits), guest: cat(osz(mode, bits), []byte{0xa3}, moff(off)), host: cat(osz(64, bits), []byte{0x67, 0xa3}, le32(wb+off))})
		for _, reg := range []byte{0, 2, 6} {
			cs = append(cs,
				userCase{name: fmt.Sprintf("movbe r%d, m%d", reg, bits), guest: cat(osz(mode, bits), []byte{0x0f, 0x38, 0xf0, gm(reg)}),
					host: cat(osz(64, bits), []byte{0x0f, 0x38, 0xf0}, hm(reg)), in: atData(rBX)},
				userCase{name: fmt.Sprintf("movbe m%d, r%d", bits, reg), guest: cat(osz(mode, bits), []byte{0x0f, 0x38, 0xf1, gm(reg)}),
					host: cat(osz(64, bits), []byte{0x0f, 0x38, 0xf1}, hm(reg)), in: atData(rBX)})
		}
		// CRC32 r32, m8 at either operand size.
		cs = append(cs, userCase{name: fmt.Sprintf("crc32 r32, m8 o%d", bits), guest: cat(osz(mode, bits), []byte{0xf2, 0x0f, 0x38, 0xf0, gm(1)}),
			host: cat(osz(64, bits), []byte{0xf2, 0x0f, 0x38, 0xf0}, hm(1)), in: atData(rBX)})
	}
	// MOVNTI m32, r32 (NP 0F C3): 32-bit whatever the code's default
	// operand size; 66 makes it #UD (TestMOVNTIPrefixUD).
	cs = append(cs, userCase{name: "movnti m32, r32", guest: []byte{0x0f, 0xc3, gm(2)}, host: cat([]byte{0x0f, 0xc3}, hm(2)), in: atData(rBX)})
	// CMPXCHG8B [si]/[esi]: EDX:EAX equal to the quadword half the time.
	si := byte(0x0e)
	if mode == 16 {
		si = 0x0c
	}
	for _, lock := range [][]byte{nil, {0xf0}} {
		for _, bits := range []int{16, 32} {
			cs = append(cs, userCase{name: fmt.Sprintf("cmpxchg8b o%d lock=%v", bits, lock != nil),
				guest: cat(lock, osz(mode, bits), []byte{0x0f, 0xc7, si}), host: cat(lock, []byte{0x0f, 0xc7, 0x8e}, le32(wb)), bothZF: true,
				in: func(rng *rand.Rand, st *hostexec.FullState, mem []byte) {
					a := userDataOff + uint64(rng.IntN(userDataLen/8))*8
					st.Regs[rSI] = a
					if rng.IntN(2) == 0 {
						st.Regs[rAX] = uint64(binary.LittleEndian.Uint32(mem[a:]))
						st.Regs[rDX] = uint64(binary.LittleEndian.Uint32(mem[a+4:]))
					}
				}})
		}
	}
	if mode == 16 {
		cs = append(cs, addr16Cases()...)
	}
	// XLATB: AL = DS:[BX + AL] (EBX in 32-bit code); the host's RBX is
	// biased by WindowBase.
	var bias [8]uint64
	bias[rBX] = wb
	xl := []byte{0x67, 0xd7}
	cs = append(cs, userCase{name: "xlatb", guest: []byte{0xd7}, host: xl, bias: bias,
		in: func(rng *rand.Rand, st *hostexec.FullState, _ []byte) {
			st.Regs[rBX] = userDataOff + uint64(rng.IntN(userDataLen-0x100+1))
		}})
	return cs
}

// TestUserRowsLegacy compares the cases above with the host in 32- and
// 16-bit protected mode; each encoding whose runs all agree marks its row
// shape verified for the ISA coverage report.
func TestUserRowsLegacy(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	n := 200
	if testing.Short() {
		n = 40
	}
	for _, mode := range []int{32, 16} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			g := newUserGuest(t, mode)
			rng := rand.New(rand.NewPCG(31, uint64(mode)))
			cs := append(userRegCases(mode), userMemCases(mode)...)
			for i := range cs {
				if g.run(t, &cs[i], n, rng) {
					markVerifiedCode(mode, cs[i].guest)
				}
			}
		})
	}
}

// ea16 is the SDM's 16-bit ModR/M address table (Vol. 2A §2.1.5, Table
// 2-1): the effective address of mod (0-2) and rm with displacement disp
// (sign-extended disp8 or disp16), modulo 64 KiB.
func ea16(mod, rm byte, r *[16]uint64, disp uint16) uint16 {
	bx, bp, si, di := uint16(r[rBX]), uint16(r[rBP]), uint16(r[rSI]), uint16(r[rDI])
	if mod == 0 && rm == 6 {
		return disp // disp16 alone
	}
	base := [8]uint16{bx + si, bx + di, bp + si, bp + di, si, di, bp, bx}[rm]
	if mod == 0 {
		return base
	}
	return base + disp
}

// TestUserLEA16 checks LEA with every 16-bit addressing form (in 16-bit
// code, and with 67 in 32-bit code) against ea16 for random and edge
// registers, and ea16 itself against the host: the host's LEA r16 of the
// same sum with 64-bit addressing leaves the same low 16 bits. With a
// 16-bit destination the upper half of the register is kept, with a
// 32-bit one the 16-bit address is zero-extended (SDM LEA, "Operand Size
// / Address Size" table); the address wraps at 64 KiB, which the inputs
// reach.
func TestUserLEA16(t *testing.T) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	n := 60
	if testing.Short() {
		n = 15
	}
	// The host's SIB base and index for each rm (4: no index).
	hostBI := [8][2]byte{{rBX, rSI}, {rBX, rDI}, {rBP, rSI}, {rBP, rDI}, {rSI, 4}, {rDI, 4}, {rBP, 4}, {rBX, 4}}
	for _, mode := range []int{16, 32} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			g := newUserGuest(t, mode)
			c := g.c
			rng := rand.New(rand.NewPCG(41, uint64(mode)))
			wrapped := 0
			for mod := byte(0); mod < 3; mod++ {
				for rm := byte(0); rm < 8; rm++ {
					for _, bits := range []int{16, 32} {
						reg := byte(rng.IntN(8))
						var disp uint16
						var dispB []byte
						switch {
						case mod == 1:
							d := byte(rng.Uint32())
							disp, dispB = uint16(int8(d)), []byte{d}
						case mod == 2 || rm == 6:
							disp = uint16(rng.Uint32())
							dispB = binary.LittleEndian.AppendUint16(nil, disp)
						}
						code := osz(mode, bits)
						if mode == 32 {
							code = append(code, 0x67)
						}
						code = cat(code, []byte{0x8d, mod<<6 | reg<<3 | rm}, dispB)
						// Host: lea r16, [base+index+disp32] (or
						// [disp32] alone for the disp16 form).
						b, x := hostBI[rm][0], hostBI[rm][1]
						host := []byte{0x66, 0x8d, 0x84 | reg<<3, x<<3 | b}
						if mod == 0 && rm == 6 {
							host = []byte{0x66, 0x8d, 0x04 | reg<<3, 0x25}
						}
						host = append(host, le32(uint64(int32(int16(disp))))...)
						ok := true
						for i := 0; i < n && ok; i++ {
							st := userInput(rng)
							if i == 0 { // a sum past 64 KiB
								st.Regs[rBX], st.Regs[rBP], st.Regs[rSI], st.Regs[rDI] = 0x1234fff0, 0xffff, 0x8081, 0xfedc
							}
							want := ea16(mod, rm, &st.Regs, disp)
							nat := st
							nat.Regs[rSP] = dgStack
							if err := hostexec.ExecFull(host, &nat, g.out, g.image); err != nil {
								t.Fatal(err)
							}
							if uint16(nat.Regs[reg]) != want {
								t.Errorf("ea16 table, mod %d rm %d disp %#x: %#x, host %#x (in %v)", mod, rm, disp, want, uint16(nat.Regs[reg]), st.Regs[:8])
							}
							wantReg := uint32(st.Regs[reg])&0xffff0000 | uint32(want)
							if bits == 32 {
								wantReg = uint32(want)
							}
							if mod != 0 || rm != 6 {
								full := int(uint16(st.Regs[b])) + int(int16(disp))
								if x != 4 {
									full += int(uint16(st.Regs[x]))
								}
								if full < 0 || full > 0xffff {
									wrapped++
								}
							}
							if err := g.exec(code, &st); err != "" {
								t.Errorf("%d-bit % x: %s", mode, code, err)
								ok = false
								continue
							}
							for r := 0; r < 8; r++ {
								w := uint32(st.Regs[r])
								if r == int(reg) {
									w = wantReg
								}
								if uint32(c.r[r]) != w {
									t.Errorf("%d-bit % x: r%d = %#x, want %#x (in %v)", mode, code, r, uint32(c.r[r]), w, st.Regs[:8])
									ok = false
								}
							}
							if c.rflags()&(arithFlags|flagDF) != st.Flags {
								t.Errorf("%d-bit % x: flags %#x, want %#x unchanged", mode, code, c.rflags(), st.Flags)
								ok = false
							}
						}
						if ok {
							markVerifiedCode(mode, code)
						}
					}
				}
			}
			if wrapped == 0 {
				t.Error("no input wrapped the 16-bit address")
			}
		})
	}
}

// TestUserXLATB16Wrap: with a 16-bit address size XLATB reads DS:(BX +
// AL) modulo 64 KiB, ignoring EBX's upper half (SDM XLAT/XLATB
// pseudocode), in 16-bit code and with 67 in 32-bit code. The host
// cannot run a 16-bit address; the SDM is the oracle.
func TestUserXLATB16Wrap(t *testing.T) {
	for _, mode := range []int{16, 32} {
		c, ram, at := branchGuest(t, mode)
		c.seg[segDS] = seg{sel: selData32, base: dataBase, limit: 0xffffffff, access: 0x93}
		code := []byte{0xd7, 0xf4}
		if mode == 32 {
			code = []byte{0x67, 0xd7, 0xf4}
		}
		copy(ram.b[at:], code)
		ram.b[dataBase+0x10] = 0x5a    // DS:(0xfff0 + 0x20) mod 64 KiB
		ram.b[dataBase+0x10010] = 0xa5 // where an unwrapped sum would read
		c.r[rBX], c.r[rAX] = 0xabcdfff0, 0x12345620
		c.rip = at
		if ex := c.Run(10); ex.Reason != ExitHLT || ex.RIP != at+uint64(len(code))-1 {
			t.Fatalf("%d-bit: exit %v at %#x (err %v)", mode, ex.Reason, ex.RIP, ex.Err)
		}
		if c.r[rAX] != 0x1234565a || c.r[rBX] != 0xabcdfff0 {
			t.Errorf("%d-bit: eax %#x ebx %#x, want 0x1234565a 0xabcdfff0", mode, c.r[rAX], c.r[rBX])
		}
	}
}

// TestUserPrefixUD: the mandatory-prefix columns of 0F 38 F0/F1 and 0F C3
// (SDM Vol. 2 Table A-4 and the opcode tables: MOVBE is NP, CRC32 is F2
// as the last of F2/F3, MOVNTI is NP) and LOCK on the rows above, which
// only a read-modify-write of memory may carry (SDM LOCK), in every mode.
// ud is what this host does with the bytes in 64-bit code (SIGILL),
// measured with a small C harness that catches SIGILL, which hostexec
// cannot survive; the legacy modes use the same bytes with [ebx] or [bx].
func TestUserPrefixUD(t *testing.T) {
	for _, k := range []struct {
		code   []byte // ModRM last: [rbx] (mod 00, r/m 011) or a register form
		ud     bool
		legacy bool // bytes that mean something else in 64-bit mode
	}{
		{[]byte{0x0f, 0x38, 0xf0, 0x03}, false, false},             // movbe eax, [rbx]
		{[]byte{0x66, 0x0f, 0x38, 0xf1, 0x03}, false, false},       // movbe [rbx], ax
		{[]byte{0x0f, 0x38, 0xf0, 0xc3}, true, false},              // movbe with a register operand
		{[]byte{0xf3, 0x0f, 0x38, 0xf0, 0x03}, true, false},        // F3 column: undefined
		{[]byte{0xf3, 0x0f, 0x38, 0xf1, 0x03}, true, false},        //
		{[]byte{0x66, 0xf3, 0x0f, 0x38, 0xf0, 0x03}, true, false},  //
		{[]byte{0xf2, 0xf3, 0x0f, 0x38, 0xf0, 0x03}, true, false},  // F3 is the last of F2/F3
		{[]byte{0xf3, 0xf2, 0x0f, 0x38, 0xf0, 0x03}, false, false}, // F2 last: crc32 eax, byte [rbx]
		{[]byte{0xf2, 0x66, 0x0f, 0x38, 0xf1, 0x03}, false, false}, // crc32 eax, word [rbx]
		{[]byte{0x0f, 0xc3, 0x03}, false, false},                   // movnti [rbx], eax
		{[]byte{0x0f, 0xc3, 0xc3}, true, false},                    // movnti with a register destination
		{[]byte{0x66, 0x0f, 0xc3, 0x03}, true, false},              // NP: 66, F2, F3 are #UD
		{[]byte{0xf2, 0x0f, 0xc3, 0x03}, true, false},
		{[]byte{0xf3, 0x0f, 0xc3, 0x03}, true, false},
		{[]byte{0x66, 0x48, 0x0f, 0xc3, 0x03}, true, false}, // with REX.W too (64-bit only)
		{[]byte{0xf0, 0x0f, 0x38, 0xf0, 0x03}, true, false},
		{[]byte{0xf0, 0x0f, 0x38, 0xf1, 0x03}, true, false},
		{[]byte{0xf0, 0xf2, 0x0f, 0x38, 0xf0, 0x03}, true, false},
		{[]byte{0xf0, 0x0f, 0xc3, 0x03}, true, false},
		{[]byte{0xf0, 0x0f, 0xc7, 0x0b}, false, false}, // lock cmpxchg8b [rbx]
		{[]byte{0xf0, 0xd7}, true, false},
		{[]byte{0xf0, 0x9e}, true, false},
		{[]byte{0xf0, 0xfc}, true, false},
		{[]byte{0xf0, 0x66, 0x40}, true, true}, // lock inc ax; the host's lock inc eax (f0 ff c0) is #UD
		{[]byte{0xf0, 0x48}, true, true},
	} {
		for _, mode := range []int{64, 32, 16} {
			code := append([]byte(nil), k.code...)
			if mode != 64 && bytes.Contains(code, []byte{0x48, 0x0f}) || mode == 64 && k.legacy {
				continue
			}
			if m := &code[len(code)-1]; mode == 16 && len(code) > 2 && *m&0xc7 == 0x03 {
				*m |= 7 // [bx]
			}
			var c *CPU
			var ram *testRAM
			at := uint64(codeBase)
			if mode == 64 {
				c, ram = withHandlers(t, nil)
			} else {
				c, ram, at = branchGuest(t, mode)
			}
			copy(ram.b[at:], append(code, 0xf4))
			c.r[rBX] = dataBase
			c.rip = at
			ex := c.Run(10)
			got := "completes"
			switch {
			case ex.Reason == ExitHLT && ex.RIP == handlerVA+vecUD*16:
				got = "#UD"
			case ex.Reason != ExitHLT || ex.RIP != at+uint64(len(code)):
				got = fmt.Sprintf("exit %v at %#x (err %v)", ex.Reason, ex.RIP, ex.Err)
			}
			if want := map[bool]string{true: "#UD", false: "completes"}[k.ud]; got != want {
				t.Errorf("%d-bit % x: %s, the host says %s", mode, code, got, want)
			}
		}
	}
}

// TestUserSegLimit16: the memory rows above check every byte they touch
// against the DS limit (64 KiB here): an operand that ends past it is
// #GP(0) (SDM Vol. 3A §5.3; each instruction's "Protected Mode
// Exceptions"), one that ends at it is not. 16-bit code, DS limit 0xffff.
func TestUserSegLimit16(t *testing.T) {
	for _, k := range []struct {
		name string
		code []byte
		bx   uint64
		gp   bool
	}{
		{"movbe eax, [bx]", []byte{0x66, 0x0f, 0x38, 0xf0, 0x07}, 0xfffc, false},
		{"movbe eax, [bx]", []byte{0x66, 0x0f, 0x38, 0xf0, 0x07}, 0xfffd, true},
		{"movbe [bx], ax", []byte{0x0f, 0x38, 0xf1, 0x07}, 0xfffe, false},
		{"movbe [bx], ax", []byte{0x0f, 0x38, 0xf1, 0x07}, 0xffff, true},
		{"cmpxchg8b [bx]", []byte{0x0f, 0xc7, 0x0f}, 0xfff8, false},
		{"cmpxchg8b [bx]", []byte{0x0f, 0xc7, 0x0f}, 0xfff9, true},
		{"movnti [bx], eax", []byte{0x0f, 0xc3, 0x07}, 0xfffc, false},
		{"movnti [bx], eax", []byte{0x0f, 0xc3, 0x07}, 0xfffd, true},
		{"crc32 eax, byte [bx]", []byte{0xf2, 0x0f, 0x38, 0xf0, 0x07}, 0xffff, false},
		{"mov eax, [0xfffc]", []byte{0x66, 0xa1, 0xfc, 0xff}, 0, false},
		{"mov eax, [0xfffd]", []byte{0x66, 0xa1, 0xfd, 0xff}, 0, true},
		{"mov [0xffff], ax", []byte{0xa3, 0xff, 0xff}, 0, true},
		{"mov [0xffff], al", []byte{0xa2, 0xff, 0xff}, 0, false},
	} {
		c, ram, at := branchGuest(t, 16)
		c.seg[segDS] = seg{sel: selData32, base: dataBase, limit: 0xffff, access: 0x93}
		copy(ram.b[at:], append(append([]byte(nil), k.code...), 0xf4))
		c.r[rBX] = k.bx
		c.rip = at
		ex := c.Run(10)
		ok := ex.Reason == ExitHLT && ex.RIP == at+uint64(len(k.code))
		gp := ex.Reason == ExitHLT && ex.RIP == handlerVA+vecGP*16
		if k.gp && !gp || !k.gp && !ok {
			t.Errorf("%s at %#x: exit %v at %#x (err %v), want #GP %v", k.name, k.bx, ex.Reason, ex.RIP, ex.Err, k.gp)
		}
		if gp {
			if e, _, _ := protFrame(c, ram, true); e != 0 {
				t.Errorf("%s at %#x: error code %#x, want 0", k.name, k.bx, e)
			}
		}
	}
}

// addr16Cases are MOVBE loads and stores through every 16-bit ModR/M
// addressing form (SDM Vol. 2A Table 2-1) with disp8 and disp16: the host
// adds the same registers and displacement to the base of the segment
// the form defaults to, SS for the BP forms and DS otherwise (SDM Vol. 1
// §3.7.4). The inputs keep the sum inside 64 KiB (the wrap is LEA's and
// XLATB's tests') and in the data block.
func addr16Cases() []userCase {
	// The host's SIB base and index for each rm (4: no index).
	hostBI := [8][2]byte{{rBX, rSI}, {rBX, rDI}, {rBP, rSI}, {rBP, rDI}, {rSI, 4}, {rDI, 4}, {rBP, 4}, {rBX, 4}}
	var cs []userCase
	for mod := byte(0); mod < 3; mod++ {
		for rm := byte(0); rm < 8; rm++ {
			b, x := hostBI[rm][0], hostBI[rm][1]
			var disp int
			var dispB []byte
			switch {
			case mod == 0 && rm == 6:
				disp = userDataOff + 0x44 // disp16 alone: no register
				dispB = binary.LittleEndian.AppendUint16(nil, uint16(disp))
			case mod == 1:
				disp = int(int8(0x80 + rm*0x21))
				dispB = []byte{byte(disp)}
			case mod == 2:
				disp = 0x1234 + int(rm)*0x300
				dispB = binary.LittleEndian.AppendUint16(nil, uint16(disp))
			}
			segBase := uint64(hostexec.WindowBase)
			if b == rBP && !(mod == 0 && rm == 6) {
				segBase += userSSOff
			}
			hostMem := []byte{0x84 | 2<<3, x<<3 | b} // [b + x + disp32], reg EDX
			if mod == 0 && rm == 6 {
				hostMem = []byte{0x04 | 2<<3, 0x25} // [disp32]
			}
			hostMem = cat(hostMem, le32(segBase+uint64(disp)))
			in := func(rng *rand.Rand, st *hostexec.FullState, _ []byte) {
				if mod == 0 && rm == 6 {
					return
				}
				rem := userDataOff + rng.IntN(userDataLen-8) - disp
				if x == 4 {
					st.Regs[b] = uint64(rem)
					return
				}
				st.Regs[b] = uint64(rng.IntN(rem + 1))
				st.Regs[x] = uint64(rem) - st.Regs[b]
			}
			modrm := mod<<6 | 2<<3 | rm
			for _, bits := range []int{16, 32} {
				cs = append(cs,
					userCase{name: fmt.Sprintf("movbe r%d, [mod %d rm %d]", bits, mod, rm), guest: cat(osz(16, bits), []byte{0x0f, 0x38, 0xf0, modrm}, dispB),
						host: cat(osz(64, bits), []byte{0x0f, 0x38, 0xf0}, hostMem), in: in},
					userCase{name: fmt.Sprintf("movbe [mod %d rm %d], r%d", mod, rm, bits), guest: cat(osz(16, bits), []byte{0x0f, 0x38, 0xf1, modrm}, dispB),
						host: cat(osz(64, bits), []byte{0x0f, 0x38, 0xf1}, hostMem), in: in})
			}
		}
	}
	return cs
}
