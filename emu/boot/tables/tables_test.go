package tables

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func build(t *testing.T, cpus int) *Image {
	t.Helper()
	img, err := Build(Platform{CPUs: cpus})
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Data) != 0x10000 {
		t.Fatalf("image is %#x bytes, want 64 KiB (0xF0000-0xFFFFF)", len(img.Data))
	}
	return img
}

func at(img *Image, gpa uint64, n int) []byte { return img.Data[gpa-0xf0000 : gpa-0xf0000+uint64(n)] }

func sum(p []byte) (s uint8) {
	for _, c := range p {
		s += c
	}
	return s
}

func table(t *testing.T, img *Image, sig string) []byte {
	t.Helper()
	for _, tb := range img.Tables {
		if tb.Sig == sig {
			return at(img, tb.Addr, tb.Len)
		}
	}
	t.Fatalf("no %s table", sig)
	return nil
}

var le = binary.LittleEndian

// Every checksum the ACPI spec (§5.2.5.3, §5.2.6) and the MP spec (§4.1,
// §4.2) define sums to zero, and the RSDP chain reaches every table.
func TestChecksumsAndPointers(t *testing.T) {
	for _, cpus := range []int{1, 2, 4, 16, 254} {
		img := build(t, cpus)
		if img.RSDP%16 != 0 || img.RSDP < 0xe0000 || img.RSDP >= 0x100000 {
			t.Fatalf("RSDP at %#x: not 16-aligned in the 0xE0000-0xFFFFF scan area", img.RSDP)
		}
		rsdp := at(img, img.RSDP, 36)
		if string(rsdp[:8]) != "RSD PTR " || rsdp[15] != 2 || le.Uint32(rsdp[20:]) != 36 {
			t.Fatalf("RSDP header %q rev %d len %d", rsdp[:8], rsdp[15], le.Uint32(rsdp[20:]))
		}
		if sum(rsdp[:20]) != 0 || sum(rsdp) != 0 {
			t.Errorf("%d CPUs: RSDP checksums: first 20 bytes sum %d, all 36 sum %d", cpus, sum(rsdp[:20]), sum(rsdp))
		}
		seen := map[string]bool{}
		check := func(addr uint64, want string) []byte {
			h := at(img, addr, 36)
			n := int(le.Uint32(h[4:]))
			tb := at(img, addr, n)
			if string(tb[:4]) != want {
				t.Fatalf("table at %#x is %q, want %q", addr, tb[:4], want)
			}
			if s := sum(tb); s != 0 {
				t.Errorf("%d CPUs: %s checksum: sum %d", cpus, want, s)
			}
			seen[want] = true
			return tb
		}
		rsdt := check(uint64(le.Uint32(rsdp[16:])), "RSDT")
		xsdt := check(le.Uint64(rsdp[24:]), "XSDT")
		if (len(rsdt)-36)/4 != (len(xsdt)-36)/8 {
			t.Errorf("RSDT has %d entries, XSDT %d", (len(rsdt)-36)/4, (len(xsdt)-36)/8)
		}
		for i := 36; i < len(xsdt); i += 8 {
			a := le.Uint64(xsdt[i:])
			if r := uint64(le.Uint32(rsdt[36+(i-36)/2:])); r != a {
				t.Errorf("RSDT entry %d = %#x, XSDT %#x", (i-36)/8, r, a)
			}
			sig := string(at(img, a, 4))
			tb := check(a, sig)
			if sig == "FACP" {
				facs := le.Uint64(tb[132:])
				if facs%64 != 0 || string(at(img, facs, 4)) != "FACS" || uint64(le.Uint32(tb[36:])) != facs {
					t.Errorf("FACS at %#x (32-bit %#x): misaligned or missing", facs, le.Uint32(tb[36:]))
				}
				dsdt := le.Uint64(tb[140:])
				if uint64(le.Uint32(tb[40:])) != dsdt {
					t.Errorf("DSDT and X_DSDT differ")
				}
				check(dsdt, "DSDT")
			}
		}
		for _, s := range []string{"FACP", "APIC", "HPET", "DSDT"} {
			if !seen[s] {
				t.Errorf("%d CPUs: %s not reachable from the RSDP", cpus, s)
			}
		}

		fp := at(img, img.MPFP, 16)
		if string(fp[:4]) != "_MP_" || fp[8] != 1 || fp[9] != 4 || sum(fp) != 0 || fp[11] != 0 {
			t.Errorf("MP floating pointer %x: bad signature, length, revision, checksum or feature byte", fp)
		}
		ct := at(img, uint64(le.Uint32(fp[4:])), 44)
		ct = at(img, uint64(le.Uint32(fp[4:])), int(le.Uint16(ct[4:])))
		if string(ct[:4]) != "PCMP" || ct[6] != 4 || sum(ct) != 0 || le.Uint32(ct[36:]) != 0xfee00000 {
			t.Errorf("MP configuration table header %x", ct[:44])
		}
	}
}

func TestMADT(t *testing.T) {
	img := build(t, 4)
	m := table(t, img, "APIC")
	if le.Uint32(m[36:]) != 0xfee00000 || le.Uint32(m[40:]) != 1 {
		t.Errorf("MADT local APIC address %#x flags %#x; want 0xfee00000, PCAT_COMPAT", le.Uint32(m[36:]), le.Uint32(m[40:]))
	}
	var lapics []uint8
	var ioapic, isos, nmis int
	for i := 44; i < len(m); i += int(m[i+1]) {
		switch m[i] {
		case 0:
			if m[i+1] != 8 || le.Uint32(m[i+4:]) != 1 || m[i+2] != m[i+3] {
				t.Errorf("local APIC entry %x", m[i:i+8])
			}
			lapics = append(lapics, m[i+3])
		case 1:
			ioapic++
			if m[i+1] != 12 || m[i+2] != 4 || le.Uint32(m[i+4:]) != 0xfec00000 || le.Uint32(m[i+8:]) != 0 {
				t.Errorf("I/O APIC entry %x; want ID 4, 0xfec00000, GSI 0", m[i:i+12])
			}
		case 2:
			isos++
			irq, gsi, flags := m[i+3], le.Uint32(m[i+4:]), le.Uint16(m[i+8:])
			if !(irq == 0 && gsi == 2 && flags == 0 || irq == 9 && gsi == 9 && flags == 0x0d) {
				t.Errorf("override IRQ %d → GSI %d flags %#x", irq, gsi, flags)
			}
		case 4:
			nmis++
			if m[i+2] != 0xff || m[i+5] != 1 {
				t.Errorf("local APIC NMI entry %x; want all processors, LINT1", m[i:i+6])
			}
		default:
			t.Errorf("unexpected MADT entry type %d", m[i])
		}
	}
	if string(lapics) != "\x00\x01\x02\x03" || ioapic != 1 || isos != 2 || nmis != 1 {
		t.Errorf("MADT has LAPIC IDs %v, %d I/O APICs, %d overrides, %d NMI entries", lapics, ioapic, isos, nmis)
	}
}

func TestFADT(t *testing.T) {
	f := table(t, build(t, 1), "FACP")
	if len(f) != 276 || f[8] != 6 {
		t.Fatalf("FADT is %d bytes revision %d, want 276 bytes revision 6 (ACPI 6.0)", len(f), f[8])
	}
	for _, tc := range []struct {
		what string
		off  int
		size int
		want uint64
	}{
		{"SCI_INT", 46, 2, 9},
		{"SMI_CMD (always in ACPI mode)", 48, 4, 0},
		{"PM1a_EVT_BLK", 56, 4, 0x600},
		{"PM1a_CNT_BLK", 64, 4, 0x604},
		{"PM_TMR_BLK", 76, 4, 0x408},
		{"PM1_EVT_LEN", 88, 1, 4},
		{"PM1_CNT_LEN", 89, 1, 2},
		{"PM_TMR_LEN", 91, 1, 4},
		{"CENTURY", 108, 1, 0x32},
		{"flags: TMR_VAL_EXT (32-bit timer)", 112, 4, 0x535},
		{"RESET_REG space (I/O)", 116, 1, 1},
		{"RESET_REG address", 120, 8, 0xcf9},
		{"RESET_VALUE", 128, 1, 6},
		{"X_PM_TMR_BLK space", 208, 1, 1},
		{"X_PM_TMR_BLK bit width", 209, 1, 32},
		{"X_PM_TMR_BLK address", 212, 8, 0x408},
		{"X_PM1a_CNT_BLK address", 176, 8, 0x604},
	} {
		var got uint64
		for i := 0; i < tc.size; i++ {
			got |= uint64(f[tc.off+i]) << (8 * i)
		}
		if got != tc.want {
			t.Errorf("FADT %s at %d = %#x, want %#x", tc.what, tc.off, got, tc.want)
		}
	}
}

func TestHPETAndDSDT(t *testing.T) {
	img := build(t, 1)
	h := table(t, img, "HPET")
	if len(h) != 56 || le.Uint32(h[36:]) != 0x80860701 || h[40] != 0 || le.Uint64(h[44:]) != 0xfed00000 {
		t.Errorf("HPET table %x", h)
	}
	d := table(t, img, "DSDT")
	if !strings.Contains(string(d[36:]), "_S5_") {
		t.Errorf("DSDT has no \\_S5")
	}
}

func TestMPTableEntries(t *testing.T) {
	img := build(t, 2)
	fp := at(img, img.MPFP, 16)
	ct := at(img, uint64(le.Uint32(fp[4:])), 44)
	ct = at(img, uint64(le.Uint32(fp[4:])), int(le.Uint16(ct[4:])))
	count := int(le.Uint16(ct[34:]))
	var procs, buses, ioapics, irqs, lints int
	pin := map[uint8]uint8{}
	i := 44
	for e := 0; e < count; e++ {
		switch ct[i] {
		case 0:
			if ct[i+1] != uint8(procs) || ct[i+2] != 0x10 || ct[i+3]&1 == 0 || (ct[i+3]&2 != 0) != (procs == 0) {
				t.Errorf("processor entry %x", ct[i:i+20])
			}
			procs++
			i += 20
			continue
		case 1:
			buses++
			if string(ct[i+2:i+8]) != "ISA   " {
				t.Errorf("bus %q", ct[i+2:i+8])
			}
		case 2:
			ioapics++
			if ct[i+1] != 2 || ct[i+2] != 0x11 || le.Uint32(ct[i+4:]) != 0xfec00000 {
				t.Errorf("I/O APIC entry %x", ct[i:i+8])
			}
		case 3:
			irqs++
			if ct[i+1] == 0 {
				pin[ct[i+5]] = ct[i+7]
			}
		case 4:
			lints++
		default:
			t.Fatalf("entry type %d", ct[i])
		}
		i += 8
	}
	if i != len(ct) {
		t.Errorf("entries end at %d, table length %d", i, len(ct))
	}
	if procs != 2 || buses != 1 || ioapics != 1 || irqs != 16 || lints != 2 {
		t.Errorf("%d processors, %d buses, %d I/O APICs, %d I/O interrupts, %d local interrupts", procs, buses, ioapics, irqs, lints)
	}
	if pin[0] != 2 || pin[4] != 4 || pin[8] != 8 {
		t.Errorf("ISA IRQ 0 → pin %d, 4 → %d, 8 → %d; want 2, 4, 8", pin[0], pin[4], pin[8])
	}
}

func TestBadCPUCount(t *testing.T) {
	for _, n := range []int{0, -1, 255} {
		if _, err := Build(Platform{CPUs: n}); !errors.Is(err, ErrCPUs) {
			t.Errorf("Build(%d CPUs) = %v, want ErrCPUs", n, err)
		}
	}
}

// iasl, the ACPICA compiler/disassembler nobody here wrote, must take every
// table without complaint and read back the values we meant.
func TestIaslDisassembles(t *testing.T) {
	iasl, err := exec.LookPath("iasl")
	if err != nil {
		t.Skip("iasl not installed (apt-get install acpica-tools)")
	}
	img := build(t, 2)
	dir := t.TempDir()
	want := map[string][]string{
		"FACP": {"PM Timer Block Address : 00000408", "SCI Interrupt : 0009", "PM1A Control Block Address : 00000604", "PM1A Event Block Address : 00000600", "Value to cause reset : 06"},
		"APIC": {"Local Apic Address : FEE00000", "I/O Apic ID : 02", "Address : FEC00000", "Interrupt : 00000002"},
		"HPET": {"Hardware Block ID : 80860701", "Address : 00000000FED00000"},
		"DSDT": {"Name (_S5, Package (0x04)"},
		"RSDT": {"ACPI Table Address 2"},
		"XSDT": {"ACPI Table Address 2"},
		"FACS": {"Signature : \"FACS\""},
	}
	for _, tb := range img.Tables {
		f := filepath.Join(dir, strings.ToLower(tb.Sig)+".dat")
		if err := os.WriteFile(f, at(img, tb.Addr, tb.Len), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(iasl, "-d", f).CombinedOutput()
		if err != nil {
			t.Errorf("iasl -d %s: %v\n%s", tb.Sig, err, out)
			continue
		}
		if strings.Contains(strings.ToLower(string(out)), "checksum") && strings.Contains(string(out), "Incorrect") {
			t.Errorf("iasl reports a bad checksum for %s:\n%s", tb.Sig, out)
		}
		dsl, err := os.ReadFile(strings.TrimSuffix(f, ".dat") + ".dsl")
		if err != nil {
			t.Errorf("%s: %v", tb.Sig, err)
			continue
		}
		norm := strings.Join(strings.Fields(string(dsl)), " ")
		for _, w := range want[tb.Sig] {
			if !strings.Contains(norm, w) {
				t.Errorf("iasl's disassembly of %s lacks %q:\n%s", tb.Sig, w, dsl)
			}
		}
		if strings.Contains(norm, "**** ") || strings.Contains(norm, "Invalid") || strings.Contains(norm, "Incorrect checksum") {
			t.Errorf("iasl flags a problem in %s:\n%s", tb.Sig, dsl)
		}
	}
	// iasl 20200925 does not disassemble a bare RSDP from a binary file
	// ("does not contain a valid ACPI table"); TestChecksumsAndPointers
	// checks it against the spec instead.
}
