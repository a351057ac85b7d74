package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawGuest writes code to a file for --boot raw (64-bit long mode at
// 0x100000, bhyveload's state).
func rawGuest(t *testing.T, code ...byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "guest.bin")
	if err := os.WriteFile(f, code, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// Guests that end the run through a userland device: fw_cfg's CPU count
// handed to isa-debug-exit, ACPI S5 through PM1a_CNT (0x604, SLP_TYP 5 |
// SLP_EN, the FADT's block and the DSDT's \_S5), a PIIX reset through
// 0xCF9, and a triple fault (ud2 with no IDT: #UD, then #GP and #DF on
// delivery, then shutdown). --max-insns bounds each, so a missing device
// shows as status 124, not a hang.
func TestRunDeviceExits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   []byte
		status int
		stderr string
	}{
		{"fw_cfg cpus to debug-exit", []byte{
			0x66, 0xba, 0x10, 0x05, // mov $0x510,%dx
			0x66, 0xb8, 0x05, 0x00, // mov $5,%ax (FW_CFG_NB_CPUS)
			0x66, 0xef, // out %ax,(%dx)
			0x66, 0xff, 0xc2, // inc %dx
			0xec,                   // in (%dx),%al
			0x66, 0xba, 0xf4, 0x00, // mov $0xf4,%dx
			0xee,       // out %al,(%dx)
			0xeb, 0xfe, // jmp .
		}, 1<<1 | 1, ""},
		{"ACPI S5", []byte{
			0x66, 0xba, 0x04, 0x06, // mov $0x604,%dx
			0x66, 0xb8, 0x00, 0x34, // mov $0x3400,%ax
			0x66, 0xef, // out %ax,(%dx)
			0xeb, 0xfe,
		}, 0, ""},
		{"reset through 0xcf9", []byte{
			0x66, 0xba, 0xf9, 0x0c, // mov $0xcf9,%dx
			0xb0, 0x06, // mov $6,%al
			0xee, // out %al,(%dx)
			0xeb, 0xfe,
		}, 0, "guest reset"},
		{"triple fault", []byte{0x0f, 0x0b}, 3, "triple fault"},
		{"spin", []byte{0xeb, 0xfe}, 124, "stopped by --max-insns 10000 at rip 0x100000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, status := runMain(t, "run", "--boot", "raw", "--max-insns", "10000", rawGuest(t, tc.code...))
			if status != tc.status || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("status %d stderr %q; want %d and %q", status, errOut, tc.status, tc.stderr)
			}
			if tc.name == "triple fault" && (!strings.Contains(errOut, "rip=") || !strings.Contains(errOut, "ss=0000000000000010") ||
				!strings.Contains(errOut, "gdtr=0000000000005000 limit 0x17")) { // bhyveload's GDT (reference §14.1)
				t.Errorf("triple fault without the registers:\n%s", errOut)
			}
		})
	}
}

// --max-insns stops at the same instruction every time: same output, same
// message, same registers.
func TestMaxInsnsDeterministic(t *testing.T) {
	out1, err1, st1 := runMain(t, "run", "--max-insns", "5000", "../../testdata/hello.elf")
	out2, err2, st2 := runMain(t, "run", "--max-insns", "5000", "../../testdata/hello.elf")
	if st1 != 124 || !strings.Contains(err1, "stopped by --max-insns 5000") {
		t.Fatalf("status %d stderr %q", st1, err1)
	}
	if out1 != out2 || err1 != err2 || st1 != st2 {
		t.Errorf("two runs differ:\n%q\n%q\n%q\n%q", out1, out2, err1, err2)
	}
	want, _ := os.ReadFile("../../testdata/hello.out")
	if !strings.HasPrefix(string(want), out1) || out1 == "" {
		t.Errorf("output %q is not a prefix of hello.out", out1)
	}
	// A limit the guest never reaches changes nothing.
	out, _, st := runMain(t, "run", "--max-insns", "100000000", "../../testdata/hello.elf")
	if st != 0 || out != string(want) {
		t.Errorf("with a distant limit: status %d", st)
	}
}

func TestTimeout(t *testing.T) {
	_, errOut, status := runMain(t, "run", "--boot", "raw", "--timeout", "200ms", rawGuest(t, 0xeb, 0xfe))
	if status != 124 || !strings.Contains(errOut, "stopped by --timeout 200ms at rip 0x100000") {
		t.Errorf("status %d stderr %q", status, errOut)
	}
}

// In 32-bit code the moffs forms of MOV (A1, A3) carry a 4-byte address,
// and vmm decodes them in the guest's mode (reference/vmm-devices.md
// §11.3): a TPR write and read-back through the LAPIC page, whose value
// leaves through debug-exit.
func TestInKernelMMIOMoffs32(t *testing.T) {
	img := rawGuest(t,
		0xb8, 0x50, 0x00, 0x00, 0x00, // mov $0x50,%eax
		0xa3, 0x80, 0x00, 0xe0, 0xfe, // mov %eax,0xfee00080 (TPR)
		0x31, 0xc0, // xor %eax,%eax
		0xa1, 0x80, 0x00, 0xe0, 0xfe, // mov 0xfee00080,%eax
		0xe6, 0xf4) // out %al,$0xf4
	if _, errOut, status := runMain(t, "run", "--boot", "raw32", img); status != 0x50<<1|1 {
		t.Errorf("status %d, want %d; stderr %q", status, 0x50<<1|1, errOut)
	}
}

// A guest in REP STOSB loops of 768 MiB each (seconds of work per
// instruction) still stops close to --timeout: the suspend kicks the vCPU
// out at the next REP chunk, not at the end of its quantum (which took
// 17-21 s here before the kick existed).
func TestTimeoutInLongRep(t *testing.T) {
	// mov edi, 0x200000; mov ecx, 0x30000000; rep stosb; jmp 0
	img := rawGuest(t, 0xbf, 0x00, 0x00, 0x20, 0x00, 0xb9, 0x00, 0x00, 0x00, 0x30, 0xf3, 0xaa, 0xeb, 0xf2)
	start := time.Now()
	_, errOut, status := runMain(t, "run", "--mem", "1G", "--boot", "raw", "--timeout", "200ms", img)
	if status != 124 || !strings.Contains(errOut, "stopped by --timeout 200ms") {
		t.Errorf("status %d stderr %q", status, errOut)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopped after %v, for a 200ms timeout", d)
	}
}

// --trace lists every retired instruction once (as many lines as VM_STATS
// counts), each with the bytes that are in the image at that address; the
// exit trace names the debug-exit OUT.
func TestTrace(t *testing.T) {
	dir := t.TempDir()
	tr, ex := filepath.Join(dir, "trace"), filepath.Join(dir, "exits")
	_, errOut, status := runMain(t, "run", "--stats", "--trace", tr, "--trace-exits", ex, "../../testdata/exit33.elf")
	if status != 33 {
		t.Fatalf("status %d: %s", status, errOut)
	}
	var retired int
	for _, l := range strings.Split(errOut, "\n") {
		if strings.HasPrefix(l, "number of guest instructions retired") {
			retired, _ = strconv.Atoi(strings.Fields(l)[len(strings.Fields(l))-1])
		}
	}
	b, _ := os.ReadFile(tr)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if retired == 0 || len(lines) != retired {
		t.Errorf("%d trace lines, %d instructions retired", len(lines), retired)
	}
	if lines[0] != "0 0000000000100000 fa                             cli" {
		t.Errorf("first line %q", lines[0])
	}
	img, _ := os.ReadFile("../../testdata/exit33.elf")
	for _, l := range lines[:20] {
		f := strings.Fields(l)
		if len(f) < 4 || f[0] != "0" {
			t.Fatalf("bad line %q", l)
		}
		// exit33.elf's text is at file offset 0x1000 for address 0x100000.
		rip, _ := strconv.ParseUint(f[1], 16, 64)
		raw, _ := strconv.ParseUint(f[2][:2], 16, 8)
		if img[0x1000+rip-0x100000] != byte(raw) {
			t.Errorf("line %q: image has %#x at that address", l, img[0x1000+rip-0x100000])
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "out %eax,$0xf4") {
		t.Errorf("last instruction %q, want the OUT to port 0xf4", last)
	}
	e, _ := os.ReadFile(ex)
	if !strings.Contains(string(e), "exit INOUT") || !strings.Contains(string(e), "out port=0xf4 bytes=4 value=0x10") {
		t.Errorf("exit trace:\n%s", e)
	}
	if bytes.Contains(e, []byte("MTRAP")) {
		t.Error("the exit trace lists the single-step exits")
	}
}

func TestBootFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"run", "--boot", "floppy"}, 2, `unknown boot format "floppy"`},
		{[]string{"run", "--boot", "raw:zz"}, 2, "bad address"},
		{[]string{"run", "--boot", "linux:0x1000"}, 2, "takes no address"},
		{[]string{"run", "--append", "x"}, exitUsage, "--append is for multiboot and Linux"},
		{[]string{"run", "--initrd", "x", "../../testdata/exit33.elf"}, exitUsage, "--initrd is for Linux and multiboot"},
		{[]string{"run", "--initrd", "/nonexistent/mod arg", "../../testdata/mbkernel.elf"}, exitSetup, "--initrd module"},
		{[]string{"run", "--boot", "linux"}, exitSetup, "no boot-protocol header"},
		{[]string{"run", "--boot", "rom", "../../testdata/exit33.out"}, exitSetup, "whole number of 4 KiB pages"},
		{[]string{"run", "--trace", "/nonexistent/dir/t"}, exitSetup, "--trace"},
		{[]string{"run", "--timeout", "-1s"}, 2, "negative"},
		{[]string{"run", "--mem", "4K"}, 2, "--mem 4K is too small: the platform's ACPI and MP tables and the BIOS area need the first 1M"},
	} {
		_, errOut, status := runMain(t, c.args...)
		if status != c.status || !strings.Contains(errOut, c.stderr) {
			t.Errorf("softvmm %q: status %d stderr %q; want %d and %q", c.args, status, errOut, c.status, c.stderr)
		}
	}
}

// The multiboot test kernel boots here as under `qemu -kernel`
// (emu/boot's TestMbkernelUnderQEMU): same output, status 3 with one CPU.
// Its entry is 32-bit protected mode.
func TestMultibootKernel(t *testing.T) {
	want, err := os.ReadFile("../../testdata/mbkernel.out")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, status := runMain(t, "run", "--max-insns", "10000000", "../../testdata/mbkernel.elf")
	if status != 3 || out != string(want) {
		t.Errorf("status %d, stdout:\n%s\nstderr:\n%s\nwant status 3 and\n%s", status, out, errOut, want)
	}
}

// rom.bin starts at the reset vector in real mode, enters protected mode and
// reports POST codes 1, 2, 3 on port 0x80 (seen in the exit trace) and two
// lines on COM1, as it does under `qemu -bios` (emu/boot's
// TestImagesUnderQEMU).
func TestROMImage(t *testing.T) {
	want, err := os.ReadFile("../../testdata/rom.out")
	if err != nil {
		t.Fatal(err)
	}
	ex := filepath.Join(t.TempDir(), "exits")
	out, errOut, status := runMain(t, "run", "--boot", "rom", "--max-insns", "100000", "--trace-exits", ex, "../../testdata/rom.bin")
	if status != 33 || out != string(want) {
		t.Errorf("status %d, stdout:\n%s\nstderr:\n%s\nwant status 33 and\n%s", status, out, errOut, want)
	}
	e, _ := os.ReadFile(ex)
	var posts []string
	for _, l := range strings.Split(string(e), "\n") {
		if strings.Contains(l, "out port=0x80 ") {
			posts = append(posts, l[strings.LastIndex(l, "value=")+6:])
		}
	}
	if strings.Join(posts, " ") != "0x1 0x2 0x3" {
		t.Errorf("POST codes %v, want [0x1 0x2 0x3]", posts)
	}
}

// COM1's interrupt output reaches the guest as edges on ISA IRQ 4 through
// IOAPIC pin 4 (testdata/uartirq.S): enabling IER.ETBEI with THR empty
// interrupts, and so does each THR write after the handler's IIR read
// acknowledged THRE. Before the runner forwarded only changes of the
// line (isaLine), the reset level's deassert left the pin's count at −1,
// no assert ever took it 0→1, and the guest waited in HLT forever (exit
// 8): Linux's tty output after "Run /init as init process" did the same.
func TestUARTInterruptThroughIOAPIC(t *testing.T) {
	out, errOut, status := runMain(t, "run", "--boot", "raw32", "--max-insns", "100000", "../../testdata/uartirq.bin")
	if status != 33 || out != "I!" {
		t.Errorf("status %d, stdout %q, stderr:\n%s\nwant status 33 and \"I!\"", status, out, errOut)
	}
}

// A guest finds the tables the runner wrote the way Linux looks for them:
// the RSDP signature on a 16-byte boundary in 0xE0000-0xFFFFF, then the
// RSDT it points to. Assembled by GNU as from:
//
//	mov $0xe0000,%esi; movabs $"RSD PTR ",%rax
//	1: cmp %rax,(%rsi); je 2f; add $16,%esi; cmp $0x100000,%esi; jb 1b
//	mov $2,%al; out %al,$0xf4          # no RSDP: status 5
//	2: mov 16(%rsi),%ebx; cmpl $"RSDT",(%rbx); jne 3f
//	mov $1,%al; out %al,$0xf4          # found both: status 3
//	3: mov $3,%al; out %al,$0xf4       # RSDP without an RSDT: status 7
func TestGuestFindsACPI(t *testing.T) {
	code := []byte{
		0xbe, 0x00, 0x00, 0x0e, 0x00, 0x48, 0xb8, 0x52, 0x53, 0x44, 0x20, 0x50,
		0x54, 0x52, 0x20, 0x48, 0x39, 0x06, 0x74, 0x0f, 0x83, 0xc6, 0x10, 0x81,
		0xfe, 0x00, 0x00, 0x10, 0x00, 0x72, 0xf0, 0xb0, 0x02, 0xe6, 0xf4, 0x8b,
		0x5e, 0x10, 0x81, 0x3b, 0x52, 0x53, 0x44, 0x54, 0x75, 0x04, 0xb0, 0x01,
		0xe6, 0xf4, 0xb0, 0x03, 0xe6, 0xf4,
	}
	_, errOut, status := runMain(t, "run", "--boot", "raw", "--max-insns", "100000", rawGuest(t, code...))
	if status != 3 {
		t.Errorf("status %d (5: no RSDP, 7: no RSDT); stderr %s", status, errOut)
	}
}

// Standard input that is a file feeds COM1's receiver: a guest that echoes
// what it reads until '!' prints the file's first bytes. Assembled by GNU
// as from:
//
//	1: mov $0x3fd,%dx; 2: in %dx,%al; test $1,%al; jz 2b    # LSR.DR
//	mov $0x3f8,%dx; in %dx,%al; mov %al,%bl; out %al,%dx    # RBR → THR
//	cmp $'!',%bl; jne 1b; mov $0x10,%al; out %al,$0xf4
func TestSerialInputFromFile(t *testing.T) {
	code := []byte{
		0x66, 0xba, 0xfd, 0x03, 0xec, 0xa8, 0x01, 0x74, 0xfb, 0x66, 0xba, 0xf8,
		0x03, 0xec, 0x88, 0xc3, 0xee, 0x80, 0xfb, 0x21, 0x75, 0xea, 0xb0, 0x10,
		0xe6, 0xf4,
	}
	in := filepath.Join(t.TempDir(), "in")
	os.WriteFile(in, []byte("hello, guest!not read"), 0o644)
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var o, e bytes.Buffer
	status := Main([]string{"run", "--boot", "raw", "--max-insns", "100000", rawGuest(t, code...)}, f, &o, &e)
	if status != 33 || o.String() != "hello, guest!" {
		t.Errorf("status %d, stdout %q, stderr %q; want 33 and \"hello, guest!\"", status, o.String(), e.String())
	}
}
