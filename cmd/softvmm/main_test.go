package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func runMain(t *testing.T, args ...string) (stdout, stderr string, status int) {
	t.Helper()
	var o, e bytes.Buffer
	status = Main(args, strings.NewReader(""), &o, &e)
	return o.String(), e.String(), status
}

// The embedded demo is testdata/demo.elf as `make testdata` built it.
func TestEmbeddedDemoMatchesTestdata(t *testing.T) {
	want, err := os.ReadFile("../../testdata/demo.elf")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(demoELF, want) {
		t.Fatal("cmd/softvmm/demo.elf differs from testdata/demo.elf: run `make testdata`")
	}
}

// Each guest's expected output comes from outside the emulator:
// testdata/*.out, written for hello.elf by running the same C code natively
// (testdata/Makefile), so a wrong instruction shows up as a diff.
func TestGuests(t *testing.T) {
	for _, c := range []struct {
		args   []string
		out    string // file with the expected stdout
		status int
	}{
		{[]string{"run"}, "demo.out", 0},
		{[]string{"run", "../../testdata/hello.elf"}, "hello.out", 0},
		{[]string{"run", "../../testdata/exit33.elf"}, "exit33.out", 33},
		{[]string{"run", "../../testdata/strio.elf"}, "strio.out", 0},    // INS/OUTS (inoutstr.go)
		{[]string{"run", "../../testdata/gate64.elf"}, "gate64.out", 33}, // 64-bit call gate, ring 3 -> 0 -> 3
	} {
		t.Run(c.out, func(t *testing.T) {
			want, err := os.ReadFile("../../testdata/" + c.out)
			if err != nil {
				t.Fatal(err)
			}
			out, errOut, status := runMain(t, c.args...)
			if status != c.status {
				t.Fatalf("status %d, want %d; stderr:\n%s", status, c.status, errOut)
			}
			if out != string(want) {
				t.Fatalf("stdout:\n%s\nwant:\n%s", out, want)
			}
			// Determinism: the same image gives byte-identical output.
			out2, _, status2 := runMain(t, c.args...)
			if out2 != out || status2 != status {
				t.Fatal("second run differs from the first")
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	notELF := dir + "/not.elf"
	os.WriteFile(notELF, []byte("hello, world"), 0o644)
	for _, c := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{}, 2, "usage: softvmm"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"run", "--mem", "12x"}, 2, "bad size"},
		{[]string{"run", "--mem", "4097"}, 2, "multiple of 4096"},
		{[]string{"run", "a", "b"}, 2, "one IMAGE at most"},
		{[]string{"run", dir + "/missing.elf"}, exitSetup, "missing.elf"},
		{[]string{"run", notELF}, exitSetup, notELF + ":"},
	} {
		_, errOut, status := runMain(t, c.args...)
		if status != c.status || !strings.Contains(errOut, c.stderr) {
			t.Errorf("softvmm %q: status %d stderr %q; want %d and %q", c.args, status, errOut, c.status, c.stderr)
		}
	}
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	out, errOut, status := runMain(t, "run", "--help")
	if status != 0 {
		t.Fatalf("status %d", status)
	}
	if errOut != "" || strings.Count(out, "usage: softvmm run") != 1 {
		t.Errorf("--help must print its text once, on stdout; stdout:\n%s\nstderr:\n%s", out, errOut)
	}
	if strings.Contains(out, "268435456") {
		t.Errorf("--help shows the default size in bytes:\n%s", out)
	}
	for _, want := range []string{"-mem", "-stats", "0xf4", "IMAGE", "-boot", "-append", "-initrd", "-max-insns", "-timeout", "-trace", "-trace-exits", "-debugcon", "multiboot", "124"} {
		if !strings.Contains(out, want) {
			t.Errorf("run --help lacks %q:\n%s", want, out)
		}
	}
}

// The real process, built and executed: its exit status is what a shell
// or CI job sees (isa-debug-exit's (v<<1)|1 for exit33.elf).
func TestBinaryExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := t.TempDir() + "/softvmm"
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for image, want := range map[string]int{"": 0, "../../testdata/exit33.elf": 33, "../../testdata/hello.elf": 0} {
		args := []string{"run"}
		if image != "" {
			args = append(args, image)
		}
		err := exec.Command(bin, args...).Run()
		got := 0
		if ee, ok := err.(*exec.ExitError); ok {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("softvmm run %s: exit status %d, want %d", image, got, want)
		}
	}
}

// --stats prints the VM_STATS counters by their VM_STAT_DESC names; the
// demo retires a fixed number of instructions, so two runs agree.
func TestRunStats(t *testing.T) {
	out, errOut, status := runMain(t, "run", "--stats")
	if status != 0 || !strings.Contains(out, "softvmm demo guest") {
		t.Fatalf("status %d out %q", status, out)
	}
	for _, want := range []string{"total number of vm exits", "number of times in/out was intercepted", "number of guest instructions retired"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("--stats output lacks %q:\n%s", want, errOut)
		}
	}
	_, errOut2, _ := runMain(t, "run", "--stats")
	if errOut2 != errOut {
		t.Errorf("stats differ between runs:\n%s\n---\n%s", errOut, errOut2)
	}
}

// --clock selects the VM clock: the LAPIC timer guest of emu/vmm/testdata
// reports its exact counts on the virtual clock, the same trace every run,
// and on the realtime clock a trace in host nanoseconds.
func TestRunClockFlag(t *testing.T) {
	img := "../../emu/vmm/testdata/lapic_periodic.elf"
	v1, e1, s1 := runMain(t, "run", "--clock", "virtual", img)
	v2, _, _ := runMain(t, "run", img)
	if s1 != 0 || !strings.Contains(v1, "A=0000000a\nB=0000000f\n") {
		t.Fatalf("virtual: status %d stdout:\n%s\nstderr:\n%s", s1, v1, e1)
	}
	if v1 != v2 {
		t.Fatal("--clock virtual is not the default")
	}
	// On the host's clock a loaded machine may coalesce expiries, so only
	// the shape of the report is certain (emu/vmm's realtime tests check
	// the timing).
	r, e, s := runMain(t, "run", "--clock", "realtime", img)
	if s != 0 || !strings.Contains(r, "A=") || !strings.Contains(r, "E=") || r == v1 {
		t.Fatalf("realtime: status %d stdout:\n%s\nstderr:\n%s", s, r, e)
	}
	if _, _, s := runMain(t, "run", "--clock", "wallclock", img); s != exitUsage {
		t.Fatalf("--clock wallclock: status %d, want %d", s, exitUsage)
	}
}

// An image that cannot be read or cannot fit is refused with a message
// naming it and status 6, before softvmm reads more than guest RAM could
// hold: /dev/zero never ends, and must not exhaust the host's memory.
func TestImageReadLimits(t *testing.T) {
	big := t.TempDir() + "/big.img"
	if err := os.WriteFile(big, make([]byte, 2<<20+1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"run", "--mem", "2M", big}, "big.img: larger than guest memory (--mem 2M)"},
		{[]string{"run", "--mem", "16M", "/dev/zero"}, "/dev/zero: larger than guest memory (--mem 16M)"},
		{[]string{"run", t.TempDir()}, "is a directory, not an image"},
		{[]string{"run", "--mem", "16M", "--initrd", "/dev/zero", "../../testdata/mbkernel.elf"}, "--initrd module: /dev/zero: larger than guest memory"},
		{[]string{"run", "--initrd", ",", "../../testdata/mbkernel.elf"}, `--initrd module "": no file name`},
		{[]string{"run", "/nonexistent.elf"}, "/nonexistent.elf"},
	} {
		_, errOut, status := runMain(t, c.args...)
		if status != exitSetup || exitSetup%2 != 0 || !strings.Contains(errOut, c.msg) {
			t.Errorf("softvmm %q: status %d stderr %q; want even status %d and %q", c.args, status, errOut, exitSetup, c.msg)
		}
	}
}

// A guest that halts with interrupts on and nothing armed to wake it
// (here `sti; hlt; jmp .-3` with no timer programmed) would sleep for
// ever under bhyve; softvmm run ends it with status 8 and says why. A
// guest whose timer will wake it (the LAPIC periodic guest) is not hung.
func TestRunHungGuest(t *testing.T) {
	img := t.TempDir() + "/stihlt.bin"
	if err := os.WriteFile(img, []byte{0xfb, 0xf4, 0xeb, 0xfc}, 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, status := runMain(t, "run", "--boot", "raw64", img)
	if status != exitHung || exitHung%2 != 0 || !strings.Contains(errOut, "every vCPU waits in HLT and nothing can wake the guest") ||
		!strings.Contains(errOut, "rip=0000000000100002") {
		t.Fatalf("status %d stderr:\n%s", status, errOut)
	}
	if out, errOut, status := runMain(t, "run", "../../emu/vmm/testdata/lapic_periodic.elf"); status != 0 || !strings.Contains(out, "A=0000000a") {
		t.Fatalf("a guest its timer wakes: status %d\n%s\n%s", status, out, errOut)
	}
}

// An IN from a port no device owns (COM2 at 0x2f8 here) reads all ones,
// as bhyve's default handler and QEMU's unassigned I/O do: the guest
// shifts the byte right by 4 and writes it to isa-debug-exit, so 0xff
// gives status (0xf<<1)|1 = 31 (0 would give 1).
func TestUnownedPortReadsAllOnes(t *testing.T) {
	img := t.TempDir() + "/in.bin"
	code := []byte{0x66, 0xba, 0xf8, 0x02, 0xec, 0xc0, 0xe8, 0x04, 0x66, 0xba, 0xf4, 0x00, 0xee}
	if err := os.WriteFile(img, code, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, status := runMain(t, "run", "--boot", "raw64", img); status != 31 {
		t.Fatalf("status %d, want 31\n%s", status, errOut)
	}
}

// Output a flag asked for and that could not be written is a failed run,
// not silently lost: /dev/full fails every write.
func TestOutputFileWriteErrors(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	for _, flag := range []string{"--trace", "--trace-exits"} {
		_, errOut, status := runMain(t, "run", flag, "/dev/full", "../../testdata/exit33.elf")
		if status != exitSetup || !strings.Contains(errOut, flag+" /dev/full: write /dev/full") || !strings.Contains(errOut, "own status was 33") {
			t.Errorf("%s /dev/full: status %d stderr %q", flag, status, errOut)
		}
	}
	// The guest's console on a full stdout, too.
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	var errOut strings.Builder
	if status := Main([]string{"run", "../../testdata/hello.elf"}, strings.NewReader(""), full, &errOut); status != exitSetup ||
		!strings.Contains(errOut.String(), "writing the guest's output: write /dev/full") || !strings.Contains(errOut.String(), "own status was 0") {
		t.Errorf("stdout /dev/full: status %d stderr %q", status, errOut.String())
	}
}

// jail.conf and devfs.rules are read only up to a bound, so an endless
// file fails with a message.
func TestJailConfigReadLimit(t *testing.T) {
	_, errOut, status := runMain(t, "jail", "-f", "/dev/zero", "-c")
	if status != exitJail || !strings.Contains(errOut, "/dev/zero: larger than 16 MiB, not a configuration file") {
		t.Fatalf("status %d stderr %q", status, errOut)
	}
}
