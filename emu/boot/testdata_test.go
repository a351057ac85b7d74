package boot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"softvmm/emu/abi"
)

// testdata/demo.out is what demo.elf must print. Its checksum line is held to
// Go's hash/crc32 (an oracle none of us wrote), and the string it names must
// be the banner in demo.elf's text, which is what the guest checksums.
func TestDemoOutChecksum(t *testing.T) {
	out := string(readTestdata(t, "demo.out"))
	const subject = "softvmm demo guest"
	want := fmt.Sprintf("crc32(%q) = 0x%08x\n", subject, crc32.ChecksumIEEE([]byte(subject)))
	if !strings.Contains(out, want) {
		t.Errorf("demo.out lacks %q:\n%s", want, out)
	}
	if !strings.HasPrefix(out, subject+"\n") {
		t.Errorf("demo.out does not start with the banner %q", subject)
	}
	if !bytes.Contains(readTestdata(t, "demo.elf"), []byte(subject+"\n\x00")) {
		t.Errorf("demo.elf does not hold the banner %q the checksum is over", subject)
	}
}

// mbkernel.elf, the multiboot test kernel, loads as QEMU's -kernel loads it:
// ELF32 at p_paddr 1 MiB, entry 0x10000c (after the 12-byte header) with
// the multiboot magic in EAX.
func TestLoadMbkernel(t *testing.T) {
	img := readTestdata(t, "mbkernel.elf")
	if k := Detect(img); k != KindMultiboot {
		t.Fatalf("Detect(mbkernel.elf) = %v, want multiboot", k)
	}
	v := newFakeVM(256<<20, 8<<20)
	info, err := LoadMultiboot(v, img, 256<<20, MultibootOptions{Cmdline: "mbkernel.elf"})
	if err != nil {
		t.Fatal(err)
	}
	if info.Entry != 0x10000c || v.regs[abi.VM_REG_GUEST_RAX] != 0x2badb002 || v.regs[abi.VM_REG_GUEST_RBX] != info.InfoGPA {
		t.Errorf("entry %#x EAX %#x EBX %#x", info.Entry, v.regs[abi.VM_REG_GUEST_RAX], v.regs[abi.VM_REG_GUEST_RBX])
	}
	if le.Uint32(v.mem[0x100000:]) != 0x1badb002 {
		t.Error("the header is not at 1 MiB")
	}
	if info.Header.Flags != 3 {
		t.Errorf("header flags %#x, want 3", info.Header.Flags)
	}
}

// rom.bin is a 64 KiB ROM whose reset vector (its last 16 bytes, at
// 0xFFFFFFF0 once mapped) is a far jump to F000:0000, the start of the copy
// below 1 MiB.
func TestLoadROMImage(t *testing.T) {
	rom := readTestdata(t, "rom.bin")
	v := &fakeROMVM{fakeVM: newFakeVM(16<<20, 2<<20)}
	info, err := LoadROM(v, rom)
	if err != nil {
		t.Fatal(err)
	}
	if info.HighGPA != 0xffff0000 || info.LowGPA != 0xf0000 || !bytes.Equal(v.mem[0xf0000:0x100000], rom) {
		t.Errorf("ROM at %#x, copy at %#x", info.HighGPA, info.LowGPA)
	}
	if !bytes.Equal(rom[0xfff0:0xfff5], []byte{0xea, 0x00, 0x00, 0x00, 0xf0}) {
		t.Errorf("reset vector %x, want ea 0000 f000 (ljmp $0xf000,$0)", rom[0xfff0:0xfff5])
	}
}

// The same images under QEMU (an emulator nobody here wrote): mbkernel.elf
// with 1 and 4 CPUs prints mbkernel.out and exits (cpus<<1)|1; rom.bin as
// -bios prints rom.out and exits 33. This is `make -C testdata qemu-check`
// as a test.
func TestImagesUnderQEMU(t *testing.T) {
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Skip("qemu-system-x86_64 not installed (apt-get install qemu-system-x86)")
	}
	if testing.Short() {
		t.Skip("boots QEMU twice; skipped in -short mode")
	}
	want := string(readTestdata(t, "mbkernel.out"))
	for _, cpus := range []int{1, 4} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, qemu, "-display", "none", "-serial", "stdio", "-monitor", "none",
			"-no-reboot", "-m", "256M", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
			"-smp", strconv.Itoa(cpus), "-kernel", "../../testdata/mbkernel.elf")
		out, err := cmd.Output()
		cancel()
		status := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		w := strings.Replace(want, "cpus 1\n", fmt.Sprintf("cpus %d\n", cpus), 1)
		if string(out) != w || status != cpus<<1|1 {
			t.Errorf("QEMU -smp %d: status %d, output\n%s\nwant status %d, output\n%s", cpus, status, out, cpus<<1|1, w)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, qemu, "-display", "none", "-serial", "stdio", "-monitor", "none",
		"-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-bios", "../../testdata/rom.bin").Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 33 || string(out) != string(readTestdata(t, "rom.out")) {
		t.Errorf("QEMU -bios rom.bin: %v, output %q", err, out)
	}
}
