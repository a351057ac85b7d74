package cpu

import (
	"bufio"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

type goldenDecode struct {
	bytes []byte
	n     int
	mnem  string
	size  int // -1: not checked
	note  string
}

func readGolden(t *testing.T) []goldenDecode {
	f, err := os.Open("testdata/decode.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []goldenDecode
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		p := strings.Split(line, "|")
		for i := range p {
			p[i] = strings.TrimSpace(p[i])
		}
		b, err := hex.DecodeString(strings.ReplaceAll(p[0], " ", ""))
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		n, _ := strconv.Atoi(p[1])
		sz := -1
		if p[3] != "-" {
			sz, _ = strconv.Atoi(p[3])
		}
		out = append(out, goldenDecode{b, n, p[2], sz, p[4]})
	}
	return out
}

func funcPtr(h handler) uintptr { return reflect.ValueOf(h).Pointer() }

// TestDecodeGolden checks the x86asm wrapper's fix-ups: length and
// effective operand size, and #UD for what is not implemented.
func TestDecodeGolden(t *testing.T) {
	c := New(&testRAM{}, 0)
	for _, g := range readGolden(t) {
		buf := make([]byte, 15)
		copy(buf, g.bytes)
		inst, ok := decode(buf, 64)
		if strings.Contains(g.note, "#UD") {
			if ok {
				var in insn
				c.build(&in, &inst, codeBase)
				if in.h != nil {
					t.Errorf("% x (%s): built a handler; want #UD", g.bytes, g.note)
				}
			}
			continue
		}
		if !ok {
			t.Errorf("% x (%s): decode failed", g.bytes, g.note)
			continue
		}
		if inst.Len != g.n {
			t.Errorf("% x (%s): length %d, want %d", g.bytes, g.note, inst.Len, g.n)
		}
		var in insn
		c.build(&in, &inst, codeBase)
		if in.h == nil {
			t.Errorf("% x (%s): no handler", g.bytes, g.note)
			continue
		}
		if g.size >= 0 && int(in.sz) != g.size {
			t.Errorf("% x (%s): operand size %d, want %d", g.bytes, g.note, in.sz, g.size)
		}
		switch g.mnem {
		case "endbr64", "nop", "prefetchnta":
			if funcPtr(in.h) != funcPtr(hNop) {
				t.Errorf("% x: want a NOP handler", g.bytes)
			}
		}
	}
	// Immediate fix-ups in detail.
	for _, tc := range []struct {
		b   []byte
		imm uint64
	}{
		{[]byte{0x6a, 0xff}, ^uint64(0)},
		{[]byte{0x66, 0x6a, 0xff}, 0xffff},
		{[]byte{0x83, 0xc0, 0xff}, 0xffffffff},
		{[]byte{0x48, 0x83, 0xc0, 0xff}, ^uint64(0)},
		{[]byte{0x66, 0x83, 0xc0, 0x80}, 0xff80},
		{[]byte{0x80, 0xc0, 0xff}, 0xff},
		{[]byte{0x48, 0xc7, 0xc0, 0x00, 0x00, 0x00, 0x80}, 0xffffffff80000000},
	} {
		buf := make([]byte, 15)
		copy(buf, tc.b)
		inst, _ := decode(buf, 64)
		var in insn
		c.build(&in, &inst, codeBase)
		if in.imm != tc.imm {
			t.Errorf("% x: imm %#x, want %#x", tc.b, in.imm, tc.imm)
		}
	}
}

// TestDecodeObjdump cross-checks the golden lengths and mnemonics with
// GNU objdump, an oracle independent of x86asm.
func TestDecodeObjdump(t *testing.T) {
	objdump, err := exec.LookPath("objdump")
	if err != nil {
		t.Skip("objdump not installed")
	}
	dir := t.TempDir()
	for i, g := range readGolden(t) {
		f := filepath.Join(dir, strconv.Itoa(i))
		if err := os.WriteFile(f, g.bytes, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(objdump, "-D", "-b", "binary", "-m", "i386:x86-64", "-M", "intel", f).Output()
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var mnem string
		for _, line := range strings.Split(string(out), "\n") {
			p := strings.Split(line, "\t")
			if len(p) < 2 || !strings.HasSuffix(strings.TrimSpace(p[0]), ":") {
				continue
			}
			if strings.TrimSpace(p[0]) == "0:" && len(p) >= 3 {
				mnem = strings.Fields(p[2])[0]
				if mnem == "rep" && len(strings.Fields(p[2])) > 1 {
					mnem += " " + strings.Fields(p[2])[1]
				}
			}
			if len(p) >= 3 || n > 0 && len(p) == 2 {
				n += len(strings.Fields(p[1]))
			}
			if len(p) >= 3 && strings.TrimSpace(p[0]) != "0:" {
				n -= len(strings.Fields(p[1])) // a second instruction
				break
			}
		}
		if n != g.n {
			t.Errorf("% x: objdump length %d, golden %d", g.bytes, n, g.n)
		}
		if !strings.HasPrefix(mnem, g.mnem) {
			t.Errorf("% x: objdump mnemonic %q, golden %q", g.bytes, mnem, g.mnem)
		}
	}
}
