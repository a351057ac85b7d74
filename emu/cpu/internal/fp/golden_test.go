package fp

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// Host vectors: results the host CPU gave, frozen in testdata so that the
// package is checked on machines that cannot run x86 code (or whose x86
// behaves differently). Regenerate on the reference host (AMD, see
// doc.go) with: go test -run TestHostVectors -update-vectors
var updateVectors = flag.Bool("update-vectors", false, "rewrite testdata/host-vectors.txt from the host")

const vectorFile = "testdata/host-vectors.txt"

// vectorOp is one operation as the vector file records it: two 80-bit
// operands (SSE lanes use Mant only) and a control word in, a result and
// a status out, computed by the implementation (impl) or the host (host).
type vectorOp struct {
	name string
	gen  func(r *rand.Rand) (a, b Ext80, ctl uint32)
	impl func(a, b Ext80, ctl uint32) (Ext80, uint32)
	host func(t *testing.T, a, b Ext80, ctl uint32) (Ext80, uint32)
}

func vectorOps() []vectorOp {
	var ops []vectorOp
	x87gen := func(r *rand.Rand) (Ext80, Ext80, uint32) {
		a, b := x87Operands(r)
		return a, b, uint32(randCW(r))
	}
	for _, o := range x87Binops {
		o := o
		ops = append(ops, vectorOp{o.name, x87gen,
			func(a, b Ext80, ctl uint32) (Ext80, uint32) {
				cw := uint16(ctl)
				r, fl := o.op(a, b, cw)
				return x87Store(a, r, fl, cw), uint32(x87SW(fl, cw, 0))
			},
			func(t *testing.T, a, b Ext80, ctl uint32) (Ext80, uint32) {
				fx := x87Host(t, o.code, uint16(ctl), a, b, nil)
				return st(fx, 0), uint32(fx.SW())
			}})
	}
	for _, u := range []struct {
		name string
		code []byte
		op   func(a Ext80, cw uint16) (Ext80, uint32)
	}{{"FSQRT", []byte{0xd9, 0xfa}, Sqrt80}, {"FRNDINT", []byte{0xd9, 0xfc}, RoundInt80}} {
		u := u
		ops = append(ops, vectorOp{u.name, x87gen,
			func(a, b Ext80, ctl uint32) (Ext80, uint32) {
				cw := uint16(ctl)
				r, fl := u.op(a, cw)
				return x87Store(a, r, fl, cw), uint32(x87SW(fl, cw, 0))
			},
			func(t *testing.T, a, b Ext80, ctl uint32) (Ext80, uint32) {
				fx := x87Host(t, u.code, uint16(ctl), a, b, nil)
				return st(fx, 0), uint32(fx.SW())
			}})
	}
	for _, o := range sseBinops {
		o := o
		ops = append(ops, vectorOp{o.name,
			func(r *rand.Rand) (Ext80, Ext80, uint32) {
				a := randBin(r, o.f, ^uint64(0))
				if o.f == f32 {
					a |= 0x7ff8123400000000
				}
				return Ext80{Mant: a}, Ext80{Mant: randBin(r, o.f, a)}, randMX(r)
			},
			func(a, b Ext80, mx uint32) (Ext80, uint32) {
				v, fl := o.op(a.Mant, b.Mant, mx)
				return Ext80{Mant: v & sseMask(o)}, mx | fl
			},
			func(t *testing.T, a, b Ext80, mx uint32) (Ext80, uint32) {
				h, hmx, _, _ := sseHost(t, o.code, mx, a.Mant, b.Mant, 0)
				return Ext80{Mant: h & sseMask(o)}, hmx
			}})
	}
	return ops
}

func sseMask(o sseBinop) uint64 {
	if o.f == f32 && o.name != "CVTSS2SD" {
		return 0xffffffff
	}
	return ^uint64(0)
}

func TestHostVectors(t *testing.T) {
	ops := vectorOps()
	byName := map[string]vectorOp{}
	for _, o := range ops {
		byName[o.name] = o
	}
	if *updateVectors {
		needHost(t)
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		w, err := os.Create(vectorFile)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(w, "# op a.se:a.mant b.se:b.mant ctl -> r.se:r.mant status (the host's; see golden_test.go)")
		for _, o := range ops {
			r := rand.New(rand.NewPCG(26, uint64(len(o.name))<<8|uint64(o.name[1])))
			for i := 0; i < 64; i++ {
				a, b, ctl := o.gen(r)
				h, hs := o.host(t, a, b, ctl)
				fmt.Fprintf(w, "%s %s %s %x -> %s %x\n", o.name, fmtExt(a), fmtExt(b), ctl, fmtExt(h), hs)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(vectorFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, fails := 0, 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		var name string
		var a, b, want Ext80
		var ctl, ws uint32
		if _, err := fmt.Sscanf(line, "%s %x:%x %x:%x %x -> %x:%x %x", &name, &a.SE, &a.Mant, &b.SE, &b.Mant, &ctl,
			&want.SE, &want.Mant, &ws); err != nil {
			t.Fatalf("%s: %q: %v", vectorFile, line, err)
		}
		o, ok := byName[name]
		if !ok {
			t.Fatalf("%s: unknown op %q", vectorFile, name)
		}
		n++
		got, gs := o.impl(a, b, ctl)
		if (got != want || gs != ws) && fails < 10 {
			fails++
			t.Errorf("%s(%s, %s) ctl %x = %s %x, host said %s %x", name, fmtExt(a), fmtExt(b), ctl, fmtExt(got), gs, fmtExt(want), ws)
		}
	}
	if n < 64*len(ops) {
		t.Errorf("%s has %d vectors, want %d", vectorFile, n, 64*len(ops))
	}
}
