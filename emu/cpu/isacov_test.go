package cpu

import (
	"cmp"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"softvmm/emu/cpu/internal/hostexec"
)

// The ISA coverage report (`make isa-coverage`; issue 3 "Oracles and
// reports", issue 4 "Acceptance"): for each x86.csv row in scope and each
// of 64-, 32- and 16-bit mode where the row is valid or invalid (N.E./N.S.
// rows, which cannot be encoded or whose meaning the manuals leave to the
// vendor, are not counted), it says whether the row is
//
//   - implemented: an encoding of it, run once in a probe guest in that
//     mode (long mode; 32-bit protected mode; 16-bit protected mode, a
//     16-bit code segment), does what the manuals say for softvmm's CPU
//     model: executes (retires, exits to the host, or raises a fault other
//     than #UD) when the row is valid in the mode and its CPUID bit is
//     advertised (cpuid.go, fpstate.go), raises #UD when the row is
//     invalid in the mode or its feature is not advertised; and
//   - verified: a test compared its behaviour with an oracle in that mode:
//     the row-driven differential test against the host (isadiff_test.go,
//     64-bit), a test that called markVerified for the row, or one that
//     called markVerifiedCode/verifyDecoded for instructions of the row's
//     shape (rowShape: mnemonic, opcode byte, operand kinds and sizes):
//     the host-differential runs in 64-, 32- and 16-bit mode
//     (diff_test.go), the x87/SSE ones (fpdiff_test.go), the Jcc, LOOP
//     and string tests against the host or the SDM's pseudocode, and the
//     self-checking guests (modes.bin, forms.bin, the C guests). For rows
//     that must #UD, the probe's #UD is the manual's answer.
//
// Rows in scope: issue 3's general-purpose rows (isarows_test.go scope:
// no CPUID feature column, not pseudo) and issue 4's x87, MMX, SSE-SSE4.2
// (with AES-NI and PCLMULQDQ), FXSAVE and XSAVE rows with or without a
// feature column (fpFamily), and the rows of the other CPUID features
// (AVX, AVX2, FMA, BMI1, ..., LZCNT, RDRAND; isafeat_test.go), reported
// on their own lines: those softvmm does not advertise must #UD unless
// the manuals define another behaviour without the feature, those it
// advertises must execute and be verified. Only pseudo rows are excluded.
//
// A row that must #UD and does not fails TestISACoverage in every `go
// test`. The report itself needs every verifying test to have run, so
// TestMain writes it after m.Run when ISA_COVERAGE=FILE is set (the
// Makefile runs the whole package and prints FILE); ISA_COVERAGE_LIST=1
// lists every gap instead of the first few per mode.

// verifiedRows are rows tests proved, keyed by mode and Intel form
// (markVerified); verifiedShapes are instruction shapes tests compared
// with an oracle, keyed by mode (markVerifiedCode, verifyDecoded).
var (
	verifiedRows   = map[int]map[string]bool{64: {}, 32: {}, 16: {}}
	verifiedShapes = map[int]map[string]bool{64: {}, 32: {}, 16: {}}
)

// markVerified records that a test checked row intel in mode against an
// oracle.
func markVerified(mode int, intel string) { verifiedRows[mode][intel] = true }

// markVerifiedCode records that a test compared the instruction at the
// start of code, run in mode (64, 32 or 16), with an oracle.
func markVerifiedCode(mode int, code []byte) {
	if inst, err := x86asm.Decode(code, mode); err == nil {
		verifiedShapes[mode][rowShape(mode, &inst)] = true
	}
}

// verifyDecoded records every instruction the interpreter decodes during
// t in protected mode (in the decoder's mode) as verified when t passes.
// For tests whose oracle checks everything the guest ran: self-checking
// guests and loops that compare each run with the host. Real-mode and
// virtual-8086 code does not count for 16-bit mode: segment loads, far
// transfers, interrupts, the stack and privilege work differently there
// from a 16-bit protected-mode code segment, which is what the report's
// 16-bit column means.
func verifyDecoded(t *testing.T) {
	seen := map[[2]string]bool{}
	decodeHook = func(c *CPU, mode int, inst *x86asm.Inst) {
		if !c.pmode || c.fl&flagVM != 0 {
			return
		}
		seen[[2]string{fmt.Sprint(mode), rowShape(mode, inst)}] = true
	}
	t.Cleanup(func() {
		decodeHook = nil
		if t.Failed() || t.Skipped() {
			return
		}
		for k := range seen {
			for _, m := range isaModes {
				if fmt.Sprint(m) == k[0] {
					verifiedShapes[m][k[1]] = true
				}
			}
		}
	})
}

// rowShape is what "an instruction of this row" means for verification:
// the mode, mnemonic, first opcode byte (so 81 /0 and 83 /0, or 00 /r and
// 02 /r, stay apart; the register of a +r opcode is masked), the kinds and
// sizes of the operands, the operand size and, with a memory operand, the
// address size.
func rowShape(mode int, inst *x86asm.Inst) string {
	var sb strings.Builder
	op := inst.Opcode >> 24
	switch {
	case op >= 0x40 && op <= 0x5f, op >= 0x90 && op <= 0x97, op >= 0xb0 && op <= 0xbf:
		op &^= 7
	}
	fmt.Fprintf(&sb, "%d %v %02x", mode, inst.Op, op)
	mem := false
	for _, a := range inst.Args {
		switch a := a.(type) {
		case nil:
		case x86asm.Reg:
			switch {
			case a >= x86asm.ES && a <= x86asm.GS:
				sb.WriteString(" sreg")
			case a >= x86asm.CR0 && a <= x86asm.CR15:
				sb.WriteString(" cr")
			case a >= x86asm.DR0 && a <= x86asm.DR15:
				sb.WriteString(" dr")
			case a >= x86asm.F0 && a <= x86asm.F7:
				sb.WriteString(" st")
			case a >= x86asm.M0 && a <= x86asm.M7:
				sb.WriteString(" mm")
			case a >= x86asm.X0 && a <= x86asm.X15:
				sb.WriteString(" xmm")
			default:
				_, sz, _ := regNum(a)
				fmt.Fprintf(&sb, " r%d", sz)
			}
		case x86asm.Mem:
			fmt.Fprintf(&sb, " m%d", inst.MemBytes)
			mem = true
		case x86asm.Imm:
			sb.WriteString(" i")
		case x86asm.Rel:
			sb.WriteString(" rel")
		}
	}
	fmt.Fprintf(&sb, " o%d", inst.DataSize)
	switch inst.Op {
	case x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE, x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ, x86asm.XLATB,
		x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ, x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ,
		x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ, x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ,
		x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ:
		mem = true // the address size picks the count or pointer registers
	}
	if mem {
		fmt.Fprintf(&sb, " a%d", inst.AddrSize)
	}
	return sb.String()
}

type probeResult int

const (
	probeExec probeResult = iota
	probeUD
	probeError
	probeUnencodable
)

// probeEnv is one guest per mode reused by every probe: its CPU and the
// low RAM (page tables, GDT, IDT, handlers, data, stack) are restored
// before each. The handlers of both harnesses sit at handlerVA+vector*16.
type probeEnv struct {
	mode int
	at   uint64 // code address
	c    *CPU
	ram  *testRAM
	save CPU
	snap []byte
}

func newProbeEnv(t *testing.T, mode int) *probeEnv {
	var c *CPU
	var ram *testRAM
	at := uint64(codeBase)
	switch mode {
	case 64:
		c, ram = withHandlers(t, nil)
	case 32:
		c, ram = newProt(t, nil)
	default:
		c, ram = newProt(t, nil)
		c.seg[segCS] = seg{sel: selCode16, limit: 0xffff, access: 0x9b}
		c.modeChanged()
		at = 0x8000
	}
	// SSE rows need CR4.OSFXSR (else #UD) and an OS that handles #XM.
	c.cr4 |= cr4OSFXSR | cr4OSXMMEXCPT
	if ok, _ := c.advertised(&isaRow{fpFeature: "XSAVE"}, mode); ok {
		c.cr4 |= 1 << 18 // OSXSAVE
	}
	return &probeEnv{mode: mode, at: at, c: c, ram: ram, save: *c, snap: append([]byte(nil), ram.b[:stackTop+0x1000]...)}
}

// probeRow runs one encoding of r and classifies the outcome; code is the
// encoding.
func (p *probeEnv) probeRow(r *isaRow) (res probeResult, what string, code []byte) {
	mode := p.mode
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
		return probeUnencodable, err.Error(), nil
	}
	c, ram := p.c, p.ram
	*c = p.save
	c.FlushCaches()
	copy(ram.b, p.snap)
	copy(ram.b[p.at:], code)
	ram.b[p.at+uint64(len(code))] = 0xf4
	for i := range c.r {
		c.r[i] = dataBase
	}
	c.r[rSP] = stackTop
	c.r[rCX] = 4
	c.r[rBX] = 0x10 // a valid data selector and a mapped address
	c.rip = p.at
	c.efer |= eferSCE
	ex := c.Run(1)
	switch {
	case ex.Reason == ExitError:
		return probeError, fmt.Sprintf("% x: %v", code, ex.Err), code
	case c.rip == handlerVA+vecUD*16 || ex.Reason == ExitHLT && ex.RIP == handlerVA+vecUD*16:
		return probeUD, fmt.Sprintf("% x: #UD", code), code
	}
	return probeExec, fmt.Sprintf("% x", code), code
}

type covRow struct {
	r           *isaRow
	fp          bool // x87/MMX/SSE/FXSAVE/XSAVE family (issue 4)
	other       bool // another CPUID feature's row (isafeat_test.go)
	wantUD      bool
	why         string
	implemented bool
	probed      bool // an encoding could be built for the mode
	shape       string
	memShape    string // the memory form's, for r/m rows
	note        string
	diffOK      bool // the row-driven host differential compared it cleanly
}

// covResults is what TestISACoverage probed, for TestMain's report.
var (
	covResults  map[int][]*covRow
	covExcluded map[string]int
)

func TestISACoverage(t *testing.T) {
	report := os.Getenv("ISA_COVERAGE") != ""
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
	byMode := map[int][]*covRow{}
	excluded := map[string]int{}
	for _, mode := range isaModes {
		env := newProbeEnv(t, mode)
		for _, r := range rows {
			if r.excluded != "" && r.fpFeature == "" && r.otherFeature == "" {
				if mode == 64 {
					excluded[strings.SplitN(r.excluded, " (", 2)[0]]++
				}
				continue
			}
			v := r.validity(mode)
			if v != "V" && v != "I" {
				continue
			}
			cr := &covRow{r: r, fp: r.fpFeature != "", other: r.otherFeature != "", wantUD: v == "I"}
			if v == "I" {
				cr.why = "invalid in this mode"
			} else if cr.other {
				cr.wantUD, cr.why = otherFeatureRule(probeCPU, r)
			} else if why := cmp.Or(udByDefinition[r.intel], udByDefinition[r.mn]); why != "" {
				cr.wantUD, cr.why = true, why
			} else if ok, f := probeCPU.advertised(r, mode); !ok {
				cr.wantUD, cr.why = true, f+" not advertised"
			}
			res, what, code := env.probeRow(r)
			if res != probeUnencodable {
				cr.probed = true
				if inst, err := x86asm.Decode(code, mode); err == nil {
					cr.shape = rowShape(mode, &inst)
				}
				// An r/m row is verified by a compared register or
				// memory form (as the row-driven differential counts
				// it); the probe runs the register form.
				if r.allowsReg() && r.allowsMem() {
					o := encOpts{index: noReg, reg: 2, base: rBX, disp: 8, dispLen: 1, mem: true}
					if mc, err := r.encode(mode, o); err == nil {
						if inst, err := x86asm.Decode(mc, mode); err == nil {
							cr.memShape = rowShape(mode, &inst)
						}
					}
				}
			}
			switch {
			case res == probeUnencodable:
			case cr.wantUD:
				cr.implemented = res == probeUD
			default:
				cr.implemented = res == probeExec
			}
			if !cr.implemented {
				cr.note = what
			}
			if d := diff[r.idx]; mode == 64 && d != nil && d.compared > 0 && d.mismatch == 0 && d.gap == "" {
				cr.diffOK = true
			}
			// A row that must #UD for softvmm's model and does not is a
			// bug (issue 3: "an instruction of an unadvertised feature
			// raises #UD, and that is tested too").
			if cr.wantUD && cr.probed && !cr.implemented {
				t.Errorf("%d-bit %s: want #UD (%s), got %s", mode, r.intel, cr.why, what)
			}
			byMode[mode] = append(byMode[mode], cr)
		}
	}
	covResults, covExcluded = byMode, excluded
}

// verified says whether a test compared cr with an oracle.
func (cr *covRow) verified(mode int) bool {
	switch {
	case !cr.implemented:
		return false
	case cr.wantUD:
		return true // the probe saw the manual's #UD
	}
	return cr.diffOK || verifiedRows[mode][cr.r.intel] || cr.shape != "" && verifiedShapes[mode][cr.shape] ||
		cr.memShape != "" && verifiedShapes[mode][cr.memShape]
}

func TestMain(m *testing.M) {
	code := m.Run()
	if out := os.Getenv("ISA_COVERAGE"); out != "" && covResults != nil {
		if err := os.WriteFile(out, []byte(coverageReport(os.Getenv("ISA_COVERAGE_LIST") != "")), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// coverageReport formats covResults: totals per mode and family, then
// the gaps (the first few per mode and kind unless full).
func coverageReport(full bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "x86.csv rows in scope: general-purpose (no CPUID feature column, not pseudo; issue 3) and\n")
	fmt.Fprintf(&b, "x87/MMX/SSE-SSE4.2/AES/PCLMULQDQ/FXSAVE/XSAVE with or without a feature column (issue 4).\n")
	fmt.Fprintf(&b, "The rows of the other CPUID features (AVX, AVX2, FMA, BMI1, ..., LZCNT, RDRAND): \"other features\".\n")
	fmt.Fprintf(&b, "Excluded (aliases of other rows):\n")
	keys := make([]string, 0, len(covExcluded))
	for k := range covExcluded {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  excluded: %-40s %d rows\n", k, covExcluded[k])
	}
	fams := []struct {
		name      string
		fp, other bool
	}{{"GP", false, false}, {"x87/MMX/SSE", true, false}, {"other features", false, true}}
	for _, mode := range isaModes {
		for _, f := range fams {
			var valid, impl, ver, ud, udImpl, unenc int
			for _, cr := range covResults[mode] {
				if cr.fp != f.fp || cr.other != f.other {
					continue
				}
				switch {
				case !cr.probed:
					unenc++
				case cr.wantUD:
					ud++
					if cr.implemented {
						udImpl++
					}
				default:
					valid++
					if cr.implemented {
						impl++
					}
					if cr.verified(mode) {
						ver++
					}
				}
			}
			if f.other {
				fmt.Fprintf(&b, "%d-bit mode, other features: %3d rows must #UD: %3d do; %d rows must execute: %d implemented, %d verified; %d not probed\n",
					mode, ud, udImpl, valid, impl, ver, unenc)
				continue
			}
			fmt.Fprintf(&b, "%d-bit mode, %-11s %4d rows must execute: %4d implemented, %4d verified; %3d rows must #UD: %3d do; %d not probed\n",
				mode, f.name+":", valid, impl, ver, ud, udImpl, unenc)
		}
	}
	// Features whose rows must #UD because softvmm does not advertise them.
	for _, mode := range isaModes {
		un := map[string]int{}
		for _, cr := range covResults[mode] {
			if cr.wantUD && strings.HasSuffix(cr.why, " not advertised") {
				un[strings.TrimSuffix(cr.why, " not advertised")]++
			}
		}
		ks := make([]string, 0, len(un))
		for k := range un {
			ks = append(ks, fmt.Sprintf("%s %d", k, un[k]))
		}
		sort.Strings(ks)
		fmt.Fprintf(&b, "%d-bit rows that must #UD as not advertised: %s\n", mode, strings.Join(ks, ", "))
	}
	// Other-feature rows that execute, and why (isafeat_test.go).
	for _, mode := range isaModes {
		ex := map[string]int{}
		for _, cr := range covResults[mode] {
			if cr.other && !cr.wantUD {
				ex[cr.r.mn+": "+cr.why]++
			}
		}
		ks := make([]string, 0, len(ex))
		for k := range ex {
			ks = append(ks, fmt.Sprintf("%s (%d)", k, ex[k]))
		}
		sort.Strings(ks)
		fmt.Fprintf(&b, "%d-bit other-feature rows that execute: %s\n", mode, strings.Join(ks, "; "))
	}
	for _, mode := range isaModes {
		var notImpl, notVer, notProbed []string
		for _, cr := range covResults[mode] {
			fam := map[bool]string{false: "GP", true: "FP"}[cr.fp]
			if cr.other {
				fam = "other"
			}
			switch {
			case !cr.probed:
				notProbed = append(notProbed, fmt.Sprintf("%s %s [%s]", fam, cr.r.intel, cr.note))
			case !cr.implemented:
				notImpl = append(notImpl, fmt.Sprintf("%s %s [%s]", fam, cr.r.intel, cr.note))
			case !cr.verified(mode):
				notVer = append(notVer, fam+" "+cr.r.intel)
			}
		}
		fmt.Fprintf(&b, "\n%d-bit gaps: %d not implemented, %d implemented but not verified, %d not probed (no encoding)\n",
			mode, len(notImpl), len(notVer), len(notProbed))
		for _, l := range []struct {
			what string
			s    []string
		}{{"not implemented", notImpl}, {"not verified", notVer}, {"not probed", notProbed}} {
			for i, s := range l.s {
				if !full && i == 15 {
					fmt.Fprintf(&b, "  %s: ... %d more (ISA_COVERAGE_LIST=1 lists all)\n", l.what, len(l.s)-i)
					break
				}
				fmt.Fprintf(&b, "  %s: %s\n", l.what, s)
			}
		}
	}
	return b.String()
}
