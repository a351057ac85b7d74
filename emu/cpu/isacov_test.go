package cpu

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"softvmm/emu/cpu/internal/hostexec"
)

// The ISA coverage report (`make isa-coverage`, issue 3 "Oracles and
// reports"): for each x86.csv row in scope (isarows_test.go: no CPUID
// feature column; x87, MMX, SSE-family, FXSAVE and XSAVE rows excluded)
// and each of 64-, 32- and 16-bit mode where the row is valid or invalid
// (N.E./N.S. rows, which cannot be encoded or whose meaning the manuals
// leave to the vendor, are not counted), it says whether the row is
//
//   - implemented: an encoding of it, run once in a probe guest in that
//     mode, does what the manuals say for softvmm's CPU model: executes
//     (retires, exits to the host, or raises a fault other than #UD) when
//     the row is valid in the mode and its CPUID bit is advertised
//     (cpuid.go), raises #UD when the row is invalid in the mode or its
//     feature is not advertised; and
//   - verified: a test compared its behaviour with an oracle: the
//     row-driven differential test against the host (isadiff_test.go)
//     ran cases of it with no mismatch, a guest test recorded it with
//     markVerified, or (for rows that must #UD) the probe's #UD is the
//     manual's answer.
//
// ISA_COVERAGE=FILE writes the totals per mode and the gaps to FILE (the
// Makefile prints it; go test hides a passing test's output); without it
// the test only checks the #UD rows, so it stays cheap in `go test`.
// Guest tests that run before it in the same process (file order) and call
// markVerified count too, so `make isa-coverage` runs the whole package.

// probeSetup puts c into a mode for the probe. Modes the interpreter does
// not run yet are set up architecturally anyway (CS.L/CS.D), so the
// report counts their rows as not implemented until they run.
var probeSetup = map[int]func(c *CPU){
	64: func(c *CPU) {},
	32: func(c *CPU) {
		c.seg[segCS].access = 0x409b // D=1, L=0: compatibility mode, 32-bit
		c.modeChanged()
	},
	16: func(c *CPU) {
		c.seg[segCS].access = 0x9b // D=0, L=0: compatibility mode, 16-bit
		c.modeChanged()
	},
}

// verifiedByTests are rows other tests proved, keyed by mode and Intel
// form; markVerified fills it.
var verifiedByTests = map[int]map[string]bool{64: {}, 32: {}, 16: {}}

// markVerified records that a test checked row intel in mode against an
// oracle.
func markVerified(mode int, intel string) { verifiedByTests[mode][intel] = true }

type probeResult int

const (
	probeExec probeResult = iota
	probeUD
	probeError
	probeUnencodable
)

// probeEnv is one guest reused by every probe: its CPU and the low RAM
// (page tables, IDT, handlers, data, stack) are restored before each.
type probeEnv struct {
	c    *CPU
	ram  *testRAM
	save CPU
	snap []byte
}

func newProbeEnv(t *testing.T) *probeEnv {
	c, ram := withHandlers(t, nil)
	return &probeEnv{c: c, ram: ram, save: *c, snap: append([]byte(nil), ram.b[:stackTop+0x1000]...)}
}

// probeRow runs one encoding of r in mode and classifies the outcome.
func (p *probeEnv) probeRow(r *isaRow, mode int) (probeResult, string) {
	o := encOpts{index: noReg, reg: 2, rm: 3, base: rBX, opreg: 1, disp: 8, dispLen: 1}
	o.mem = !r.allowsReg()
	var fix uint8
	for _, a := range r.args {
		switch {
		case strings.HasPrefix(a, "CR"):
			fix = 2 // CR2: harmless to write
			o.fixReg = &fix
		case strings.HasPrefix(a, "DR"):
			fix = 0
			o.fixReg = &fix
		case a == "Sreg":
			fix = segDS
			o.fixReg = &fix
		}
	}
	code, err := r.encode(mode, o)
	if err != nil {
		return probeUnencodable, err.Error()
	}
	c, ram := p.c, p.ram
	*c = p.save
	c.FlushCaches()
	copy(ram.b, p.snap)
	copy(ram.b[codeBase:], code)
	ram.b[codeBase+uint64(len(code))] = 0xf4
	for i := range c.r {
		c.r[i] = dataBase
	}
	c.r[rSP] = stackTop
	c.r[rCX] = 4
	c.r[rBX] = 0x10 // a valid data selector and a mapped address
	c.efer |= eferSCE
	probeSetup[mode](c)
	ex := c.Run(1)
	switch {
	case ex.Reason == ExitError:
		return probeError, fmt.Sprintf("% x: %v", code, ex.Err)
	case c.rip == handlerVA+vecUD*16 || ex.Reason == ExitHLT && ex.RIP == handlerVA+vecUD*16:
		return probeUD, fmt.Sprintf("% x: #UD", code)
	}
	return probeExec, fmt.Sprintf("% x", code)
}

type covRow struct {
	r           *isaRow
	wantUD      bool
	why         string
	implemented bool
	verified    bool
	note        string
}

func TestISACoverage(t *testing.T) {
	out := os.Getenv("ISA_COVERAGE")
	report := out != ""
	rows := isaRows(t)
	var diff map[int]*rowDiffResult
	if report && hostexec.Available {
		n := 40
		if testing.Short() {
			n = 8
		}
		diff = runRowDiff(t, n)
	}
	probeCPU, _ := newGuest(t, nil)
	env := newProbeEnv(t)
	byMode := map[int][]*covRow{}
	excluded := map[string]int{}
	for _, r := range rows {
		if r.excluded != "" {
			excluded[strings.SplitN(r.excluded, " (", 2)[0]]++
			continue
		}
		for _, mode := range isaModes {
			v := r.validity(mode)
			if v != "V" && v != "I" {
				continue
			}
			cr := &covRow{r: r, wantUD: v == "I"}
			if v == "I" {
				cr.why = "invalid in this mode"
			} else if why := udByDefinition[r.intel] + udByDefinition[r.mn]; why != "" {
				cr.wantUD, cr.why = true, why
			} else if ok, f := probeCPU.advertised(r, mode); !ok {
				cr.wantUD, cr.why = true, f+" not advertised"
			}
			res, what := env.probeRow(r, mode)
			switch {
			case res == probeUnencodable:
				continue
			case cr.wantUD:
				cr.implemented = res == probeUD
				cr.verified = cr.implemented
			default:
				cr.implemented = res == probeExec
			}
			if !cr.implemented {
				cr.note = what
			}
			if !cr.wantUD {
				if d := diff[r.idx]; mode == 64 && d != nil && d.compared > 0 && d.mismatch == 0 && d.gap == "" {
					cr.verified = true
				}
				if verifiedByTests[mode][r.intel] {
					cr.verified = true
				}
			}
			// A row that must #UD for softvmm's model and does not is a
			// bug in a mode the interpreter runs.
			if cr.wantUD && !cr.implemented && mode == 64 {
				t.Errorf("%d-bit %s: want #UD (%s), got %s", mode, r.intel, cr.why, what)
			}
			byMode[mode] = append(byMode[mode], cr)
		}
	}
	if !report {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "x86.csv rows in scope (no CPUID feature column, not x87/MMX/SSE/FXSAVE/XSAVE, not pseudo)\n")
	keys := make([]string, 0, len(excluded))
	for k := range excluded {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  excluded: %-40s %d rows\n", k, excluded[k])
	}
	for _, mode := range isaModes {
		var valid, impl, ver, ud, udImpl int
		for _, cr := range byMode[mode] {
			if cr.wantUD {
				ud++
				if cr.implemented {
					udImpl++
				}
				continue
			}
			valid++
			if cr.implemented {
				impl++
			}
			if cr.verified {
				ver++
			}
		}
		fmt.Fprintf(&b, "%d-bit mode: %d rows must execute: %d implemented, %d verified; %d rows must #UD: %d do\n",
			mode, valid, impl, ver, ud, udImpl)
	}
	for _, mode := range isaModes {
		var notImpl, notVer []string
		for _, cr := range byMode[mode] {
			switch {
			case !cr.implemented:
				notImpl = append(notImpl, fmt.Sprintf("%s [%s]", cr.r.intel, cr.note))
			case !cr.verified:
				notVer = append(notVer, cr.r.intel)
			}
		}
		fmt.Fprintf(&b, "\n%d-bit gaps: %d not implemented, %d implemented but not verified\n", mode, len(notImpl), len(notVer))
		if mode != 64 && len(notImpl) > 100 {
			fmt.Fprintf(&b, "  (not implemented: the interpreter does not run %d-bit code yet)\n", mode)
			continue
		}
		for _, s := range notImpl {
			fmt.Fprintf(&b, "  not implemented: %s\n", s)
		}
		for _, s := range notVer {
			fmt.Fprintf(&b, "  not verified:    %s\n", s)
		}
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
