package cpu

import (
	"encoding/csv"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"
)

// TestISACoverageByShape is the second half of `make isa-coverage` (issue 3 "Oracles and
// reports"): for every row of golang.org/x/arch's x86.csv with no CPUID
// feature column, outside the x87/MMX/SSE/FXSAVE/XSAVE families, and in
// each of 64-, 32- and 16-bit mode where the row is valid, it builds one
// encoding of the row and reports
//   - implemented: the decoder and build give it a handler (or, for an
//     instruction of a feature softvmm's CPUID does not advertise, #UD);
//   - verified: an instruction of the same shape (mnemonic, operand
//     kinds and widths) was decoded while running the differential tests
//     against the host CPU or a guest-code test (testdata images and the
//     guest programs of the protected-, real- and long-mode tests).
//
// It runs only when ISA_COVERAGE_CSV names x86.csv (the Makefile does that)
// and never fails: it is a report.
func TestISACoverageByShape(t *testing.T) {
	path := os.Getenv("ISA_COVERAGE_CSV")
	if path == "" {
		t.Skip("set ISA_COVERAGE_CSV to the path of x86.csv (make isa-coverage)")
	}
	rows, err := readX86CSV(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	decodeHook = func(mode int, inst *x86asm.Inst) { seen[shapeOf(mode, inst)] = true }
	defer func() { decodeHook = nil }()
	for _, v := range verifyingTests {
		t.Run(v.name, v.f)
	}
	type count struct{ rows, impl, verified int }
	var per [3]count
	var missing [3][]string
	for _, r := range rows {
		for mi, mode := range []int{64, 32, 16} {
			b, ok := r.synth(mode)
			if !ok {
				continue
			}
			per[mi].rows++
			inst, ok := decode(b, mode)
			impl, shape := false, ""
			if ok {
				shape = shapeOf(mode, &inst)
				c := New(&testRAM{}, 0)
				var in insn
				in.len = uint8(inst.Len)
				c.build(&in, &inst, 0x1000)
				impl = in.h != nil
				if unadvertised[r.op] {
					impl = !impl // must stay #UD
				}
			} else {
				impl = unadvertised[r.op]
			}
			if impl {
				per[mi].impl++
			}
			verified := ok && seen[shape]
			if unadvertised[r.op] {
				verified = impl && udVerified[fmt.Sprint(mode, " ", r.op)]
			}
			if verified {
				per[mi].verified++
			} else {
				missing[mi] = append(missing[mi], fmt.Sprintf("%s [% x]%s", r.text, b[:min(len(b), 8)], map[bool]string{false: " (not implemented)", true: ""}[impl]))
			}
		}
	}
	for mi, name := range []string{"64-bit", "32-bit", "16-bit"} {
		p := per[mi]
		t.Logf("%s mode: %d rows, %d implemented, %d verified", name, p.rows, p.impl, p.verified)
	}
	if os.Getenv("ISA_COVERAGE_LIST") != "" {
		for mi, name := range []string{"64", "32", "16"} {
			sort.Strings(missing[mi])
			for _, m := range missing[mi] {
				t.Logf("mode %s not verified: %s", name, m)
			}
		}
	}
}

// verifyingTests are the oracle-backed tests whose decoded instructions
// count as verified.
var verifyingTests = []struct {
	name string
	f    func(*testing.T)
}{
	{"DiffALU", TestDiffALU}, {"DiffUnary", TestDiffUnary}, {"DiffShift", TestDiffShift},
	{"DiffBits", TestDiffBits}, {"DiffSequences", TestDiffSequences}, {"DiffLegacyModes", TestDiffLegacyModes},
	{"CGuest", TestCGuest}, {"ModesGuest", TestModesGuest}, {"FormsGuest", TestFormsGuest},
	{"ProtSegmentLoadFaults", TestProtSegmentLoadFaults}, {"ProtLimits", TestProtLimits},
	{"ProtPrivilegeChange", TestProtPrivilegeChange}, {"Prot32Instructions", TestProt32Instructions},
	{"ProtBoundInto", TestProtBoundInto}, {"ProtLTRLLDT", TestProtLTRLLDT},
	{"ModeSwitchRules", TestModeSwitchRules}, {"Paging32", TestPaging32}, {"PagingPAE", TestPagingPAE},
	{"CompatModeFault", TestCompatModeFault}, {"Prot16", TestProt16}, {"Prot32System", TestProt32System},
	{"VectorDelivery", TestVectorDelivery}, {"ProtSegmentTypes", TestProtSegmentTypes},
	{"AlignmentCheck", TestAlignmentCheck}, {"IOPermissionBitmap", TestIOPermissionBitmap},
	{"SingleStep", TestSingleStep},
	{"RealModeIntIret", TestRealModeIntIret}, {"IntIret", TestIntIret},
	{"UnadvertisedUD", TestUnadvertisedUD}, {"ProtIcebp", TestProtIcebp},
	{"DiffBranches", TestDiffBranches}, {"LoopJcxzSizes", TestLoopJcxzSizes}, {"StringModes", TestStringModes},
	// 64-bit guest-code tests with architectural expectations
	{"InOutExit", TestInOutExit}, {"MSRs", TestMSRs}, {"CPUID", TestCPUID},
	{"InterruptShadow", TestInterruptShadow}, {"ExceptionDE", TestExceptionDE}, {"ExceptionPF", TestExceptionPF},
	{"ExceptionGPNonCanonical", TestExceptionGPNonCanonical}, {"DoubleFaultIST", TestDoubleFaultIST},
	{"SyscallSysret", TestSyscallSysret}, {"DescriptorTables", TestDescriptorTables},
	{"ControlRegisters", TestControlRegisters}, {"PagingInvlpgAndCR3", TestPagingInvlpgAndCR3},
	{"StringOps", TestStringOps}, {"CallRetStack", TestCallRetStack}, {"MemoryForms", TestMemoryForms},
	{"SegmentBases", TestSegmentBases}, {"CompatModeFault64", TestCompatModeFault},
	{"StrIOExit", TestStrIOExit}, {"StrIOPermission", TestStrIOPermission},
	{"CallGate32", TestCallGate32}, {"CallGate16", TestCallGate16}, {"CallGate64", TestCallGate64},
}

// udVerified records "mode MNEMONIC" for each unadvertised instruction
// TestUnadvertisedUD saw raise #UD.
var udVerified = map[string]bool{}

// Instructions of features the CPUID table does not advertise raise #UD
// in every mode (issue 3: "an instruction of an unadvertised feature
// raises #UD, and that is tested too").
func TestUnadvertisedUD(t *testing.T) {
	for _, u := range []struct {
		op   string
		code []byte
	}{
		{"MONITOR", []byte{0x0f, 0x01, 0xc8}}, {"MWAIT", []byte{0x0f, 0x01, 0xc9}},
		{"SYSENTER", []byte{0x0f, 0x34}}, {"SYSEXIT", []byte{0x0f, 0x35}},
		{"RSM", []byte{0x0f, 0xaa}},
		{"UD0", []byte{0x0f, 0xff, 0xc0}}, {"UD1", []byte{0x0f, 0xb9, 0xc0}},
	} {
		for _, mode := range []int{64, 32, 16} {
			var c *CPU
			var ram *testRAM
			switch mode {
			case 64:
				c, ram = withHandlers(t, u.code)
			case 32:
				c, ram = newProt(t, u.code)
			default:
				c, ram = newProt(t, nil)
				copy(ram.b[0x8000:], u.code)
				c.seg[segCS] = seg{sel: selCode16, limit: 0xffff, access: 0x9b}
				c.rip = 0x8000
				c.modeChanged()
			}
			_ = ram
			ex := c.Run(10)
			if ex.Reason != ExitHLT || ex.RIP != handlerVA+vecUD*16 {
				t.Errorf("%s in %d-bit mode: exit %v at %#x, want #UD", u.op, mode, ex.Reason, ex.RIP)
				continue
			}
			udVerified[fmt.Sprint(mode, " ", u.op)] = true
		}
	}
}

// unadvertised are instructions of features softvmm's CPUID leaves out
// (cpuid.go): implemented means they raise #UD.
var unadvertised = map[string]bool{
	"MONITOR": true, "MWAIT": true,
	"SYSENTER": true, "SYSEXIT": true, "RSM": true,
	"UD0": true, "UD1": true,
}

// excluded are the families the x87/SSE issue covers.
func excludedRow(op, args string) bool {
	if strings.HasPrefix(op, "F") || strings.HasPrefix(op, "XSAVE") || strings.HasPrefix(op, "XRSTOR") {
		return true
	}
	// MOV to/from the test registers TR0-TR7 existed on the 386/486
	// only; every later CPU raises #UD, as softvmm does.
	for _, s := range []string{"mm", "xmm", "ST(", "TR0-TR7"} {
		if strings.Contains(args, s) {
			return true
		}
	}
	return op == "EMMS"
}

type csvRow struct {
	text, op, args, enc string
	v32, v64            bool
	tags                map[string]bool
}

func readX86CSV(path string) ([]csvRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	var rows []csvRow
	for _, rec := range recs {
		if len(rec) != 6 || rec[4] != "" {
			continue
		}
		op, args, _ := strings.Cut(rec[0], " ")
		tags := map[string]bool{}
		for _, tg := range strings.Split(rec[5], ",") {
			tags[tg] = true
		}
		if tags["pseudo"] || tags["pseudo64"] || excludedRow(op, args) {
			continue
		}
		rows = append(rows, csvRow{text: rec[0], op: op, args: args, enc: rec[1],
			v32: rec[2] == "V", v64: rec[3] == "V", tags: tags})
	}
	return rows, nil
}

// synth builds one encoding of the row for mode, or false when the row
// is not valid there.
func (r *csvRow) synth(mode int) ([]byte, bool) {
	if mode == 64 && !r.v64 || mode != 64 && !r.v32 {
		return nil, false
	}
	var pre []byte
	// Operand size: no prefix when the mode's default is among the
	// tags (or there are none); else 66 (REX.W is in the encoding).
	osz := map[int]string{16: "operand16", 32: "operand32", 64: "operand32"}[mode]
	if r.tags["operand16"] || r.tags["operand32"] || r.tags["operand64"] {
		switch {
		case r.tags[osz], mode == 64 && r.tags["operand64"]:
		case r.tags["operand16"] || mode == 16 && r.tags["operand32"]:
			pre = append(pre, 0x66)
		default:
			return nil, false
		}
	}
	asz := mode
	for _, a := range []int{16, 32, 64} {
		if r.tags["address"+strconv.Itoa(a)] {
			if a == 64 && mode != 64 || a == 16 && mode == 64 {
				return nil, false
			}
			if a != mode && !(mode == 64 && a == 64) {
				pre = append(pre, 0x67)
			}
			asz = a
		}
	}
	mem := r.tags["modrm_memonly"]
	for _, a := range strings.Split(r.args, ",") {
		a = strings.TrimSpace(a)
		if strings.HasPrefix(a, "m") && !strings.HasPrefix(a, "moffs") {
			mem = true
		}
	}
	modrm := func(reg byte) []byte {
		if !mem {
			return []byte{0xc0 | reg<<3 | 2}
		}

		if asz == 16 {
			return []byte{reg<<3 | 7} // [bx]
		}
		return []byte{reg<<3 | 3} // [ebx] / [rbx]
	}
	var rex byte
	var out []byte
	opcodeSeen := false
	for _, tok := range strings.Fields(r.enc) {
		switch {
		case tok == "+":
		case tok == "REX.W":
			rex |= 0x48
		case tok == "REX":
			rex |= 0x40
		case tok == "/r":
			out = append(out, modrm(3)...) // not 1: MOV to CS is #UD
		case len(tok) == 2 && tok[0] == '/':
			out = append(out, modrm(tok[1]-'0')...)
		case tok == "ib" || tok == "cb":
			out = append(out, 1)
		case tok == "iw" || tok == "cw":
			out = append(out, 1, 0)
		case tok == "id" || tok == "cd":
			out = append(out, 1, 0, 0, 0)
		case tok == "io":
			out = append(out, 1, 0, 0, 0, 0, 0, 0, 0)
		case tok == "cp":
			out = append(out, 1, 0, 0, 0, 8, 0)
		case tok == "cm":
			out = append(out, make([]byte, asz/8)...)
			out[len(out)-asz/8] = 0x10
		case strings.Contains(tok, "+"):
			h, k, _ := strings.Cut(tok, "+")
			v, err := strconv.ParseUint(h, 16, 8)
			if err != nil || k == "i" {
				return nil, false
			}
			out = append(out, byte(v)+1)
			opcodeSeen = true
		default:
			v, err := strconv.ParseUint(tok, 16, 8)
			if err != nil {
				return nil, false
			}
			if !opcodeSeen && (v == 0x66 || v == 0xf2 || v == 0xf3) && len(out) == 0 {
				pre = append(pre, byte(v)) // mandatory prefix: before REX
				continue
			}
			out = append(out, byte(v))
			opcodeSeen = true
		}
	}
	if rex != 0 {
		if mode != 64 {
			return nil, false
		}
		pre = append(pre, rex)
	}
	b := append(pre, out...)
	return append(b, make([]byte, 16)...), true
}

// shapeOf is what "the same instruction" means for coverage: mode,
// mnemonic and operand kinds with their widths (not which registers).
func shapeOf(mode int, inst *x86asm.Inst) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d %v", mode, inst.Op)
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
	case x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE, x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ, x86asm.XLATB:
		mem = true // the address size picks the count or base register
	}
	if mem {
		fmt.Fprintf(&sb, " a%d", inst.AddrSize) // address size matters only with memory
	}
	return sb.String()
}
