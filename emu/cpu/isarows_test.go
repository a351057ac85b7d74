package cpu

import (
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The rows of golang.org/x/arch's x86.csv (a copy in testdata/, see
// testdata/x86.csv.README) drive the ISA coverage report (isacov_test.go)
// and the row-driven differential test (isadiff_test.go). This file parses
// the rows, decides which are in scope for issue 3, and synthesises
// encodings of a row for a mode.

// isaRow is one x86.csv line.
type isaRow struct {
	idx      int    // line order, 0-based
	intel    string // "ADC r/m16, imm16"
	mn       string // "ADC"
	args     []string
	enc      string // "81 /2 iw"
	valid32  string // V, I, N.E., N.S.
	valid64  string
	feature  string // CPUID feature column
	tags     string
	excluded string // why the row is out of issue 3's scope; "" when in scope
	// fpFeature is the CPUID feature an x87, MMX, SSE-family, FXSAVE or
	// XSAVE row needs (issue 4's scope, with or without x86.csv's feature
	// column): "FPU", "MMX", "SSE" ... "SSE4_2", "AES", "CLMUL", "FXSR",
	// "XSAVE", "XSAVEOPT"; "" for the other rows.
	fpFeature string
	// otherFeature is the feature column of the remaining extension rows
	// (AVX, AVX2, FMA, F16C, BMI1, BMI2, SHA, FSGSBASE, HLE, RTM,
	// INVPCID, LZCNT, PRFCHW, RDRAND, ...; isafeat_test.go says what each
	// must do in softvmm's CPU model); "" for the other rows.
	otherFeature string
}

func (r *isaRow) hasTag(t string) bool {
	for _, x := range strings.Split(r.tags, ",") {
		if x == t {
			return true
		}
	}
	return false
}

// isaModes are the code-segment sizes the report covers. valid reads the
// row's validity column for the mode (x86.csv has one column for both
// legacy sizes).
var isaModes = []int{64, 32, 16}

func (r *isaRow) validity(mode int) string {
	if mode == 64 {
		return r.valid64
	}
	if mode != 64 && strings.Contains(r.enc, "REX") {
		return "N.E."
	}
	return r.valid32
}

var isaRowsCache []*isaRow

// isaRows returns every x86.csv row with its scope decided.
func isaRows(t testing.TB) []*isaRow {
	if isaRowsCache != nil {
		return isaRowsCache
	}
	f, err := os.Open("testdata/x86.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := csv.NewReader(f)
	rd.Comment = '#'
	recs, err := rd.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var rows []*isaRow
	for i, rec := range recs {
		if len(rec) != 6 {
			t.Fatalf("x86.csv line %d: %d fields", i, len(rec))
		}
		r := &isaRow{idx: i, intel: rec[0], enc: rec[1], valid32: rec[2], valid64: rec[3], feature: rec[4], tags: rec[5]}
		r.mn, _, _ = strings.Cut(r.intel, " ")
		if _, a, ok := strings.Cut(r.intel, " "); ok {
			r.args = strings.Split(a, ", ")
		}
		r.excluded = scope(r)
		r.fpFeature = fpFamily(r)
		if r.feature != "" && r.fpFeature == "" {
			r.otherFeature = r.feature
		}
		rows = append(rows, r)
	}
	isaRowsCache = rows
	return rows
}

// sseFamilyGP are general-purpose-looking rows whose CPUID feature is an
// SSE generation even though x86.csv leaves the column blank (SDM Vol. 2:
// MOVNTI, LFENCE and MFENCE need SSE2, SFENCE and the PREFETCHh hints SSE,
// CRC32 SSE4.2). They belong to the x87/SSE issue with the rest of SSE.
var sseFamilyGP = map[string]bool{
	"MOVNTI": true, "LFENCE": true, "MFENCE": true, "SFENCE": true, "CRC32": true,
	"PREFETCHNTA": true, "PREFETCHT0": true, "PREFETCHT1": true, "PREFETCHT2": true,
}

// scope says why a row is not issue 3's, or "".
func scope(r *isaRow) string {
	switch {
	case r.feature != "":
		return "CPUID feature " + r.feature
	case r.hasTag("pseudo") || r.hasTag("pseudo64"):
		return "pseudo (alias of another row)"
	case strings.HasPrefix(r.mn, "FXSAVE") || strings.HasPrefix(r.mn, "FXRSTOR"):
		return "FXSAVE/FXRSTOR"
	case strings.HasPrefix(r.mn, "XSAVE") || strings.HasPrefix(r.mn, "XRSTOR") || r.mn == "XGETBV" || r.mn == "XSETBV":
		return "XSAVE"
	case r.mn == "WAIT" || r.mn == "FWAIT" || r.mn[0] == 'F' && len(r.enc) >= 2 && r.enc[0] == 'D' && r.enc[1] >= '8':
		return "x87"
	case r.mn == "FNCLEX" || r.mn == "FNINIT" || r.mn == "FNSAVE" || r.mn == "FNSTCW" || r.mn == "FNSTENV" || r.mn == "FNSTSW":
		return "x87"
	case strings.Contains(r.intel, "xmm"):
		return "SSE"
	case r.mn == "EMMS":
		return "MMX"
	case sseFamilyGP[r.mn]:
		return "SSE (CPUID feature not in x86.csv)"
	}
	for _, a := range r.args {
		if strings.HasPrefix(a, "mm") {
			return "MMX"
		}
	}
	return ""
}

// fpFeatureColumns are the feature-column values of issue 4's families
// (AES-NI and PCLMULQDQ are SSE-encoded and counted with them; their
// AVX forms are not).
var fpFeatureColumns = map[string]bool{"MMX": true, "SSE": true, "SSE2": true, "SSE3": true, "SSSE3": true,
	"SSE4_1": true, "SSE4_2": true, "AES": true, "CLMUL": true, "XSAVEOPT": true}

// fpFamily returns the CPUID feature of an issue-4 row, or "". Rows with
// a blank feature column get theirs from the SDM's "CPUID Feature Flag"
// column: the x87 rows FPU, FXSAVE/FXRSTOR FXSR, the XSAVE rows XSAVE,
// the MMX-register conversions SSE (no mandatory prefix) or SSE2 (66, F2,
// F3), MOVNTI/LFENCE/MFENCE SSE2, SFENCE and PREFETCHh SSE, CRC32 SSE4.2.
func fpFamily(r *isaRow) string {
	if r.hasTag("pseudo") || r.hasTag("pseudo64") {
		return ""
	}
	if r.mn == "MOVNTSD" || r.mn == "MOVNTSS" {
		// x86.csv says SSE, but these are AMD's SSE4A (APM Vol. 4
		// MOVNTSD/MOVNTSS: CPUID Fn8000_0001_ECX[SSE4A]).
		return "SSE4A"
	}
	if r.feature != "" {
		if fpFeatureColumns[r.feature] {
			return r.feature
		}
		return ""
	}
	switch r.excluded {
	case "x87":
		return "FPU"
	case "FXSAVE/FXRSTOR":
		return "FXSR"
	case "XSAVE":
		// XSAVEC and XSAVES/XRSTORS have their own bits (SDM Vol. 1
		// 13.2, CPUID leaf 0DH sub-leaf 1 EAX[1] and EAX[3]); x86.csv
		// files them under XSAVE with no feature column.
		switch r.mn {
		case "XSAVEC", "XSAVEC64":
			return "XSAVEC"
		case "XSAVES", "XSAVES64", "XRSTORS", "XRSTORS64":
			return "XSAVES"
		}
		return "XSAVE"
	case "MMX":
		return "MMX"
	case "SSE":
		if strings.HasPrefix(r.enc, "66 ") || strings.HasPrefix(r.enc, "F2 ") || strings.HasPrefix(r.enc, "F3 ") {
			return "SSE2"
		}
		return "SSE"
	case "SSE (CPUID feature not in x86.csv)":
		switch r.mn {
		case "MOVNTI", "LFENCE", "MFENCE":
			return "SSE2"
		case "CRC32":
			return "SSE4_2"
		}
		return "SSE"
	}
	return ""
}

// fpBits are the CPUID bits of the fpFeature names (SDM Vol. 2 CPUID,
// Tables 3-8 and 3-10; leaf 0DH sub-leaf 1 EAX[0] XSAVEOPT, [1] XSAVEC,
// [3] XSAVES).
var fpBits = map[string]cpuidBit{
	"FPU": {"FPU", 1, 0, 3, 0}, "MMX": {"MMX", 1, 0, 3, 23}, "FXSR": {"FXSR", 1, 0, 3, 24},
	"SSE": {"SSE", 1, 0, 3, 25}, "SSE2": {"SSE2", 1, 0, 3, 26}, "SSE3": {"SSE3", 1, 0, 2, 0},
	"CLMUL": {"PCLMULQDQ", 1, 0, 2, 1}, "SSSE3": {"SSSE3", 1, 0, 2, 9}, "SSE4_1": {"SSE4.1", 1, 0, 2, 19},
	"SSE4_2": {"SSE4.2", 1, 0, 2, 20}, "AES": {"AES", 1, 0, 2, 25}, "XSAVE": {"XSAVE", 1, 0, 2, 26},
	"XSAVEOPT": {"XSAVEOPT", 0xd, 1, 0, 0}, "XSAVEC": {"XSAVEC", 0xd, 1, 0, 1}, "XSAVES": {"XSAVES", 0xd, 1, 0, 3},
	"SSE4A": {"SSE4A", 0x80000001, 0, 2, 6},
}

// cpuidBit names the CPUID bit a blank-feature row still depends on
// (SDM Vol. 2, each instruction's "CPUID Feature Flag" column, and
// Table 3-8 of CPUID), so the report can require #UD where softvmm's CPU
// model (cpuid.go) does not advertise it.
type cpuidBit struct {
	name           string
	leaf, sub, reg uint32 // reg: 0 EAX, 1 EBX, 2 ECX, 3 EDX
	bit            uint
}

var rowFeatures = map[string]cpuidBit{
	"MONITOR":    {"MONITOR", 1, 0, 2, 3},
	"MWAIT":      {"MONITOR", 1, 0, 2, 3},
	"POPCNT":     {"POPCNT", 1, 0, 2, 23},
	"MOVBE":      {"MOVBE", 1, 0, 2, 22},
	"CMPXCHG16B": {"CX16", 1, 0, 2, 13},
	"CMPXCHG8B":  {"CX8", 1, 0, 3, 8},
	"CLFLUSH":    {"CLFSH", 1, 0, 3, 19},
	"SYSENTER":   {"SEP", 1, 0, 3, 11},
	"SYSEXIT":    {"SEP", 1, 0, 3, 11},
	"RDTSCP":     {"RDTSCP", 0x80000001, 0, 3, 27},
	"SYSCALL":    {"SYSCALL", 0x80000001, 0, 3, 11},
	"SYSRET":     {"SYSCALL", 0x80000001, 0, 3, 11},
	"RDTSC":      {"TSC", 1, 0, 3, 4},
	"RDMSR":      {"MSR", 1, 0, 3, 5},
	"WRMSR":      {"MSR", 1, 0, 3, 5},
}

func init() {
	for _, cc := range []string{"A", "AE", "B", "BE", "C", "E", "G", "GE", "L", "LE", "NA", "NAE", "NB", "NBE", "NC", "NE",
		"NG", "NGE", "NL", "NLE", "NO", "NP", "NS", "NZ", "O", "P", "PE", "PO", "S", "Z"} {
		rowFeatures["CMOV"+cc] = cpuidBit{"CMOV", 1, 0, 3, 15}
	}
}

// udByDefinition are valid rows whose defined behaviour in softvmm's
// model is #UD.
var udByDefinition = map[string]string{
	"UD0": "SDM UD: raises #UD", "UD1": "SDM UD: raises #UD", "UD2": "SDM UD: raises #UD",
	"RSM": "SDM RSM: #UD outside SMM; softvmm has no SMM",
	// 0F 24/0F 26 (MOV to/from test registers) left with the i486; they
	// are #UD on every processor since the Pentium.
	"MOV TR0-TR7, rmf32": "test registers removed", "MOV rmf32, TR0-TR7": "test registers removed",
	"MOV TR0-TR7, rmf64": "test registers removed", "MOV rmf64, TR0-TR7": "test registers removed",
}

// advertised reports whether softvmm's CPU model offers what row needs
// (LAHF/SAHF in 64-bit mode need CPUID.80000001H:ECX.LAHF-SAHF[0]).
func (c *CPU) advertised(r *isaRow, mode int) (bool, string) {
	f, ok := rowFeatures[r.mn]
	if r.fpFeature != "" {
		f, ok = fpBits[r.fpFeature], true
	}
	if !ok && mode == 64 && (r.mn == "LAHF" || r.mn == "SAHF") {
		f, ok = cpuidBit{"LAHF-SAHF", 0x80000001, 0, 2, 0}, true
	}
	if !ok {
		return true, ""
	}
	a, b, cx, d := c.cpuid(f.leaf, f.sub)
	v := [4]uint32{a, b, cx, d}[f.reg]
	return v>>f.bit&1 != 0, f.name
}

// encOpts picks the free parts of an encoding.
type encOpts struct {
	mem      bool  // r/m names memory
	reg, rm  uint8 // ModRM reg (when the row has /r) and r/m register, 0-15
	base     uint8 // memory base register (64/32-bit addressing)
	index    uint8 // noReg for none
	scale    uint8 // 0-3
	disp     int32
	dispLen  int   // 0, 1 or 4 (1 when 0 is asked for with an RBP/R13 base)
	opreg    uint8 // register of +rb/+rw/+rd/+ro
	imm      [2]uint64
	rex      byte   // extra REX bits (0x40 forced for byte-register rows)
	prefixes []byte // extra legacy prefixes (REP, segment)
	fixReg   *uint8 // ModRM reg forced by the row (CR/DR/Sreg number)
	ripRel   bool   // memory operand [RIP+disp32] (64-bit mode)
}

// operandSize returns the row's operand size in bits for mode, and the
// 66/67 prefixes its tags need there; ok is false when the row's
// operand/address size cannot be selected in mode.
func (r *isaRow) sizePrefixes(mode int) (pre []byte, ok bool) {
	o16, o32, o64 := r.hasTag("operand16"), r.hasTag("operand32"), r.hasTag("operand64")
	switch mode {
	case 64:
		if o16 && !o32 && !o64 {
			pre = append(pre, 0x66)
		}
	case 32:
		if o16 && !o32 {
			pre = append(pre, 0x66)
		}
	case 16:
		if o32 && !o16 {
			pre = append(pre, 0x66)
		}
	}
	a16, a32, a64 := r.hasTag("address16"), r.hasTag("address32"), r.hasTag("address64")
	switch {
	case !a16 && !a32 && !a64:
	case mode == 64 && a64, mode == 32 && a32, mode == 16 && a16:
	case mode == 64 && a32, mode == 32 && a16, mode == 16 && a32:
		pre = append(pre, 0x67)
	default:
		return nil, false
	}
	return pre, true
}

// immSize is the byte length of an ib/iw/id/io/cb/cw/cd/cp/cm token.
func immSize(tok string, mode int, addr67 bool) int {
	switch tok {
	case "ib", "cb":
		return 1
	case "iw", "cw":
		return 2
	case "id", "cd":
		return 4
	case "io":
		return 8
	case "cp":
		if mode == 16 {
			return 4
		}
		return 6
	case "cm":
		n := mode / 8
		if addr67 {
			n = map[int]int{64: 4, 32: 2, 16: 4}[mode]
		}
		return n
	}
	return -1
}

// allowsReg/allowsMem report which ModRM forms the row's operands admit.
func (r *isaRow) allowsReg() bool {
	if r.hasTag("modrm_memonly") || sdmMemOnly[r.intel] {
		return false
	}
	for _, a := range r.args {
		if strings.HasPrefix(a, "r/m") || strings.HasPrefix(a, "rmf") || strings.Contains(a, "/m") {
			return true
		}
	}
	return !r.allowsMem()
}

func (r *isaRow) allowsMem() bool {
	if r.hasTag("modrm_regonly") {
		return false
	}
	for _, a := range r.args {
		if strings.HasPrefix(a, "r/m") || strings.Contains(a, "/m") || a == "m" || a == "mem" ||
			strings.HasPrefix(a, "m") && len(a) > 1 && (a[1] >= '0' && a[1] <= '9') {
			return !strings.HasPrefix(a, "moffs")
		}
	}
	return false
}

// encode synthesises one encoding of r for mode. The ModRM and
// immediates come from o; memory forms use o.base/o.index/o.disp in
// 32/64-bit addressing and [BX+disp8] in 16-bit addressing.
func (r *isaRow) encode(mode int, o encOpts) ([]byte, error) {
	if strings.HasPrefix(r.enc, "VEX") {
		return r.encodeVEX(mode, o) // isafeat_test.go
	}
	if r.mn == "XACQUIRE" || r.mn == "XRELEASE" {
		return hleEncoding(r, mode, o) // isafeat_test.go
	}
	pre, ok := r.sizePrefixes(mode)
	if !ok {
		return nil, fmt.Errorf("operand/address size not selectable in %d-bit mode", mode)
	}
	pre = append(pre, o.prefixes...)
	addr67 := false
	for _, p := range pre {
		if p == 0x67 {
			addr67 = true
		}
	}
	var mand, ops, tail []byte
	rex := o.rex
	hasModRM := false
	modrmReg := uint8(0)
	opcodeSeen := false
	immIdx := 0
	for _, tok := range strings.Fields(r.enc) {
		switch {
		case tok == "+":
		case tok == "REX.W":
			rex |= 0x48
		case tok == "REX":
			rex |= 0x40
		case tok == "/r":
			hasModRM = true
			modrmReg = o.reg
			if o.fixReg != nil {
				modrmReg = *o.fixReg
			}
		case len(tok) == 2 && tok[0] == '/' && tok[1] >= '0' && tok[1] <= '7':
			hasModRM = true
			modrmReg = tok[1] - '0'
		case immSize(tok, mode, addr67) > 0:
			n := immSize(tok, mode, addr67)
			v := o.imm[immIdx&1]
			immIdx++
			for i := 0; i < n; i++ {
				tail = append(tail, byte(v>>(8*i)))
			}
		case strings.Contains(tok, "+r"):
			b, err := strconv.ParseUint(tok[:2], 16, 8)
			if err != nil {
				return nil, err
			}
			ops = append(ops, byte(b)|o.opreg&7)
			if o.opreg >= 8 {
				rex |= 0x41
			}
			opcodeSeen = true
		case strings.HasSuffix(tok, "+i"):
			b, err := strconv.ParseUint(strings.TrimSuffix(tok, "+i"), 16, 8)
			if err != nil {
				return nil, err
			}
			ops = append(ops, byte(b)|1) // ST(1)
			opcodeSeen = true
		default:
			b, err := strconv.ParseUint(tok, 16, 8)
			if err != nil {
				return nil, fmt.Errorf("encoding token %q", tok)
			}
			if !opcodeSeen && (b == 0x66 || b == 0xf2 || b == 0xf3) {
				mand = append(mand, byte(b))
				continue
			}
			opcodeSeen = true
			ops = append(ops, byte(b))
		}
	}
	var modrm []byte
	if hasModRM {
		if modrmReg >= 8 {
			rex |= 0x44
		}
		m, x := r.modrm(mode, addr67, o, modrmReg&7, &rex)
		modrm = append(modrm, m...)
		_ = x
	}
	if rex != 0 {
		if mode != 64 {
			return nil, fmt.Errorf("REX in %d-bit mode", mode)
		}
		rex |= 0x40
	}
	out := append(pre, mand...)
	if rex != 0 {
		out = append(out, rex)
	}
	out = append(out, ops...)
	out = append(out, modrm...)
	return append(out, tail...), nil
}

func (r *isaRow) modrm(mode int, addr67 bool, o encOpts, reg uint8, rex *byte) ([]byte, bool) {
	if !o.mem {
		if o.rm >= 8 {
			*rex |= 0x41
		}
		return []byte{0xc0 | reg<<3 | o.rm&7}, true
	}
	asz16 := mode == 16 && !addr67 || mode == 32 && addr67
	if o.ripRel && mode == 64 {
		d := uint32(o.disp)
		return []byte{0x05 | reg<<3, byte(d), byte(d >> 8), byte(d >> 16), byte(d >> 24)}, true
	}
	if asz16 {
		return []byte{0x47 | reg<<3, byte(o.disp)}, true // [BX+disp8]
	}
	mod := byte(0x80)
	dl := o.dispLen
	switch {
	case dl == 1:
		mod = 0x40
	case dl == 0 && o.base&7 == 5:
		mod, dl = 0x40, 1
	case dl == 0:
		mod = 0
	}
	var b []byte
	if o.base >= 8 {
		*rex |= 0x41
	}
	if o.index != noReg || o.base&7 == 4 {
		idx := uint8(4)
		if o.index != noReg {
			idx = o.index
			if idx >= 8 {
				*rex |= 0x42
			}
		}
		b = append(b, mod|reg<<3|4, o.scale<<6|(idx&7)<<3|o.base&7)
	} else {
		b = append(b, mod|reg<<3|o.base&7)
	}
	for i := 0; i < dl; i++ {
		b = append(b, byte(uint32(o.disp)>>(8*i)))
	}
	return b, true
}
