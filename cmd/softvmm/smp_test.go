package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

const smpImage = "../../testdata/smp.elf"

func smpWant(t *testing.T, cpus int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("../../testdata/smp-%d.out", cpus))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// retiredRE picks each vCPU's "guest instructions retired" line out of
// --stats.
var retiredRE = regexp.MustCompile(`(?m)^number of guest instructions retired +(\d+)$`)

// testdata/smp.elf (smp.S) starts the APs the MADT lists with INIT/SIPI,
// each prints its APIC id under a lock, all add to a shared counter under
// a spinlock, and the BSP, woken by their IPIs from sti; hlt, prints the
// count and exits with the CPU count: status (cpus<<1)|1. The expected
// output is QEMU's (testdata/smp-N.out, `make -C testdata qemu-check`;
// TestSMPUnderQEMU). The guest also checks that fw_cfg, the MADT and the
// MP table agree on the CPU count (reference/vmm-interface.md §7.4,
// §14.3). Until the interpreter runs real mode the APs start in long mode
// (--ap-start long); TestSMPRealModeAPs covers bhyve's real-mode start.
func TestSMPGuest(t *testing.T) {
	for _, cpus := range []int{1, 2, 4} {
		args := []string{"run", "--boot", "elf64", "--ap-start", "long", "--cpus", strconv.Itoa(cpus), "--stats", smpImage}
		out, errOut, status := runMain(t, args...)
		if want := smpWant(t, cpus); out != want || status != cpus<<1|1 {
			t.Fatalf("--cpus %d: status %d, stdout:\n%s\nstderr:\n%s\nwant status %d and\n%s", cpus, status, out, errOut, cpus<<1|1, want)
		}
		m := retiredRE.FindAllStringSubmatch(errOut, -1)
		if len(m) != cpus {
			t.Fatalf("--cpus %d: --stats shows %d vCPUs:\n%s", cpus, len(m), errOut)
		}
		for id, l := range m {
			// Every AP adds to the counter 20000 times: far more than
			// one quantum of instructions each.
			if n, _ := strconv.ParseUint(l[1], 10, 64); n == 0 || id > 0 && n < 20000*5 {
				t.Errorf("--cpus %d: vCPU %d retired %d instructions", cpus, id, n)
			}
		}
	}
}

// The default clock and scheduler make an SMP run repeat exactly: the same
// serial bytes, exit status and per-vCPU counters (instructions retired,
// exits of every kind) on every run (DESIGN.md "Determinism"). Another
// quantum interleaves differently — other counts, the same output.
func TestSMPDeterministic(t *testing.T) {
	run := func(extra ...string) (string, string, int) {
		args := append([]string{"run", "--boot", "elf64", "--ap-start", "long", "--cpus", "4", "--stats"}, extra...)
		return runMain(t, append(args, smpImage)...)
	}
	out1, err1, st1 := run()
	out2, err2, st2 := run()
	if out1 != out2 || err1 != err2 || st1 != st2 {
		t.Fatalf("two runs differ:\nstatus %d, stdout\n%s\nstderr\n%s\n---\nstatus %d, stdout\n%s\nstderr\n%s", st1, out1, err1, st2, out2, err2)
	}
	if out1 != smpWant(t, 4) || st1 != 9 {
		t.Fatalf("status %d, stdout:\n%s", st1, out1)
	}
	out3, err3, st3 := run("--quantum", "997")
	if out3 != out1 || st3 != st1 {
		t.Fatalf("--quantum 997: status %d, stdout:\n%s\nstderr:\n%s", st3, out3, err3)
	}
	if err3 == err1 {
		t.Errorf("--quantum 997 gave the same counters as the default quantum: the turns are not what interleaves the vCPUs")
	}
	out4, err4, _ := run("--quantum", "997")
	if out4 != out3 || err4 != err3 {
		t.Errorf("two runs with --quantum 997 differ")
	}
}

// --max-insns counts the instructions of every vCPU and stops exactly
// there, on whichever vCPU's turn it falls.
func TestSMPMaxInsns(t *testing.T) {
	_, errOut, status := runMain(t, "run", "--boot", "elf64", "--ap-start", "long", "--cpus", "2", "--max-insns", "200001", "--stats", smpImage)
	if status != exitLimit || !strings.Contains(errOut, "stopped by --max-insns 200001") {
		t.Fatalf("status %d, stderr:\n%s", status, errOut)
	}
	var total uint64
	for _, l := range retiredRE.FindAllStringSubmatch(errOut, -1) {
		n, _ := strconv.ParseUint(l[1], 10, 64)
		total += n
	}
	if total != 200001 {
		t.Errorf("the vCPUs retired %d instructions in all, want 200001:\n%s", total, errOut)
	}
}

// bhyve's way (reference/vmm-interface.md §7.4, §14.3): the AP starts in
// real mode with CS.base = vector<<12 and runs smp.S's real-mode
// trampoline, as under QEMU.
func TestSMPRealModeAPs(t *testing.T) {
	out, errOut, status := runMain(t, "run", "--boot", "elf64", "--cpus", "2", smpImage)
	if want := smpWant(t, 2); out != want || status != 5 {
		t.Errorf("status %d, stdout:\n%s\nstderr:\n%s\nwant status 5 and\n%s", status, out, errOut, want)
	}
}

func TestSMPFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--cpus", "0"}, "--cpus 0: want 1 to 16"},
		{[]string{"--cpus", "17"}, "--cpus 17: want 1 to 16"},
		{[]string{"--quantum", "0"}, "--quantum must be at least 1"},
		{[]string{"--ap-start", "protected"}, `--ap-start "protected": want real or long`},
	} {
		_, errOut, status := runMain(t, append(append([]string{"run"}, c.args...), smpImage)...)
		if status != exitUsage || !strings.Contains(errOut, c.msg) {
			t.Errorf("%q: status %d, stderr %q; want %d and %q", c.args, status, errOut, exitUsage, c.msg)
		}
	}
	// smp.elf detected as multiboot (its header) has no bhyveload pages.
	_, errOut, status := runMain(t, "run", "--ap-start", "long", "--cpus", "2", smpImage)
	if status != exitUsage || !strings.Contains(errOut, "--ap-start long is for elf64 and raw64 images") {
		t.Errorf("--ap-start long on a multiboot boot: status %d, stderr %q", status, errOut)
	}
}

// The same image under QEMU, an x86 machine nobody here wrote, through its
// multiboot header, with real-mode AP trampolines: the output
// TestSMPGuest expects. One CPU per socket, because SeaBIOS's MP table
// lists only the first logical CPU of each package (softvmm's tables list
// every vCPU, as bhyve's sockets-only default topology does).
func TestSMPUnderQEMU(t *testing.T) {
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed (apt-get install qemu-system-x86)")
	}
	if testing.Short() {
		t.Skip("boots QEMU three times; skipped in -short mode")
	}
	for _, cpus := range []int{1, 2, 4} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		n := strconv.Itoa(cpus)
		out, err := exec.CommandContext(ctx, qemu, "-display", "none", "-serial", "stdio", "-monitor", "none",
			"-no-reboot", "-m", "256M", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
			"-smp", n+",sockets="+n+",cores=1,threads=1", "-kernel", smpImage).Output()
		cancel()
		status := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if want := smpWant(t, cpus); string(out) != want || status != cpus<<1|1 {
			t.Errorf("QEMU -smp %d: status %d, output\n%s\nwant status %d, output\n%s", cpus, status, out, cpus<<1|1, want)
		}
	}
}

// A guest whose every vCPU waits in HLT with interrupts on and nothing
// armed (sti; hlt, no timer, no input) can never run again: the run ends
// with status 5 and a message, with one vCPU or several, instead of
// hanging (or the Go runtime's deadlock crash) — unless --timeout or a
// terminal's input could still change things.
func TestHaltedForever(t *testing.T) {
	img := filepath.Join(t.TempDir(), "stihlt.bin")
	if err := os.WriteFile(img, []byte{0xfb, 0xf4, 0xeb, 0xfd}, 0o644); err != nil { // sti; hlt; jmp back to hlt
		t.Fatal(err)
	}
	for _, cpus := range []string{"1", "2"} {
		_, errOut, status := runMain(t, "run", "--boot", "raw64", "--cpus", cpus, img)
		if status != exitHung || !strings.Contains(errOut, "every vCPU waits in HLT and nothing can wake the guest") ||
			!strings.Contains(errOut, "rip=0000000000100002") {
			t.Errorf("--cpus %s: status %d, stderr:\n%s", cpus, status, errOut)
		}
	}
	// A --timeout could still end it from outside: the runner waits for it.
	_, errOut, status := runMain(t, "run", "--boot", "raw64", "--cpus", "2", "--timeout", "100ms", img)
	if status != exitLimit || !strings.Contains(errOut, "stopped by --timeout 100ms") {
		t.Errorf("--timeout 100ms: status %d, stderr:\n%s", status, errOut)
	}
}

// --trace follows every vCPU: the AP's first line is the trampoline's
// first instruction at 0x8000 (B8 00 00 EB 0C: in 64-bit mode one
// mov $imm32, %eax, which swallows the real-mode path's jmp), and a vCPU
// parked in HLT gets no instruction lines while it stays parked.
func TestSMPTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("single-steps a 500k-instruction guest; skipped in -short mode")
	}
	tr := filepath.Join(t.TempDir(), "trace")
	_, errOut, status := runMain(t, "run", "--boot", "elf64", "--ap-start", "long", "--cpus", "2", "--trace", tr, "--trace-exits", tr, smpImage)
	if status != 5 {
		t.Fatalf("status %d, stderr:\n%s", status, errOut)
	}
	b, err := os.ReadFile(tr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	first := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "1 ") {
			first = l
			break
		}
	}
	if !strings.HasPrefix(first, "1 0000000000008000 b80000eb0c") || !strings.HasSuffix(first, "mov $0xceb0000,%eax") {
		t.Errorf("vCPU 1's first trace line %q", first)
	}
	// The BSP waits in sti; hlt at 0x100294 and re-enters parked while
	// the AP works: many HLT exits, and the instruction after the hlt
	// (jmp at 0x100295) is listed only when it runs, once per wake-up.
	hlts, jmps := 0, 0
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "0 exit HLT rip=0x100295"):
			hlts++
		case strings.HasPrefix(l, "0 0000000000100295 "):
			jmps++
		}
	}
	if hlts < 3 || jmps == 0 || jmps >= hlts {
		t.Errorf("%d HLT exits of vCPU 0, %d lines for the instruction after its hlt", hlts, jmps)
	}
}
