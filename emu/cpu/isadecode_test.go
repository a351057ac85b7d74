package cpu

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

// TestISARowLengthsObjdump decodes encodings of every in-scope 64-bit row
// (the row harness's generator: register and memory forms, SIB, REX, LOCK,
// 67, REP) with the interpreter's decoder and with GNU objdump, and
// requires the same instruction boundaries (issue 3, "golden decode tests
// ... length agrees with GNU objdump"). All encodings go to objdump in one
// file; the first disagreement names its row.
func TestISARowLengthsObjdump(t *testing.T) {
	objdump, err := exec.LookPath("objdump")
	if err != nil {
		t.Skip("objdump not installed")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	type enc struct {
		row  *isaRow
		code []byte
		off  int
	}
	var encs []enc
	var all []byte
	per := 6
	if testing.Short() {
		per = 2
	}
	nrows := 0
	for _, r := range isaRows(t) {
		if r.excluded != "" || r.valid64 != "V" || udByDefinition[r.intel]+udByDefinition[r.mn] != "" {
			continue
		}
		nrows++
		g := &rowGen{r: r, rng: rng, width: rowWidth(r)}
		for i := 0; i < per; i++ {
			k, err := g.gen()
			if err != nil {
				continue
			}
			// The interpreter's decoder, instruction by instruction.
			for p := 0; p < len(k.code); {
				inst, ok := decode(k.code[p:], 64)
				if !ok {
					t.Fatalf("%s: % x does not decode at %d", r.intel, k.code, p)
				}
				encs = append(encs, enc{r, k.code[p : p+inst.Len], len(all) + p})
				p += inst.Len
			}
			all = append(all, k.code...)
		}
	}
	var starts []int
	for _, d := range objdumpInsns(t, objdump, "i386:x86-64", all) {
		if strings.Contains(d.text, "(bad)") {
			t.Errorf("objdump: (bad) at %#x", d.off)
		}
		starts = append(starts, d.off)
	}
	for i, e := range encs {
		if i >= len(starts) || starts[i] != e.off {
			got := "none"
			if i < len(starts) {
				got = fmt.Sprintf("%#x", starts[i])
			}
			t.Fatalf("%s: % x at %#x: objdump's instruction %d starts at %s", e.row.intel, e.code, e.off, i, got)
		}
	}
	t.Logf("%d instructions of %d rows agree with objdump", len(encs), nrows)
}
