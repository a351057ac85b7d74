package main

import (
	"bufio"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"softvmm/devices/vclock"
	"softvmm/emu/abi"
	"softvmm/emu/vmm"
	"softvmm/emu/vmmapi"
	"softvmm/jail"
)

// demoELF is testdata/demo.elf, copied here by `make testdata` because
// go:embed cannot reach outside the package directory; a test checks the
// two copies are identical.
//
//go:embed demo.elf
var demoELF []byte

// Exit statuses of `softvmm run`. Guest power-off and halt are success
// (DESIGN.md "Guest images and the runner"); a triple fault and a fatal
// VM_RUN error use bhyve's numbers (reference/vmm-interface.md §7.5). A
// guest write of v to port 0xf4 exits with (v<<1)|1, which the operating
// system truncates to its low 8 bits. Every status is odd, so softvmm's
// own failures are even (a harness can tell "the image would not load"
// from "the guest wrote 0 to 0xf4"); the triple fault keeps bhyve's 3.
const (
	exitOK          = 0
	exitSetup       = 6 // the image or the VM could not be set up
	exitUsage       = 2
	exitTripleFault = 3
	exitFatal       = 4   // VM_RUN failed, or an exit nothing here handles
	exitHung        = 8   // every vCPU waits in HLT and nothing can ever wake one
	exitLimit       = 124 // stopped by --max-insns or --timeout (timeout(1)'s status)
)

const runUsage = `usage: softvmm run [flags] [IMAGE]

Boots IMAGE on --cpus vCPUs (default one). Without IMAGE it boots the
demo guest built into softvmm. The format is detected (--boot overrides it):
  elf64      an ELF64 executable, loaded the way bhyveload loads a FreeBSD
             kernel: 64-bit long mode, identity-mapped low memory
  multiboot  a kernel with a multiboot v1 header (ELF32, ELF64 or the a.out
             kludge), entered in 32-bit protected mode; --append is its
             command line, after the image's name, and --initrd its
             modules ("FILE ARGS,FILE ARGS"), as with QEMU's -kernel
  linux      a bzImage, through the 64-bit boot protocol; --append is the
             command line, --initrd the initial ramdisk
  rom        a BIOS ROM, mapped below 4 GiB and at the top of the first
             MiB, started at the reset vector in real mode
  raw64, raw32, raw16[:ADDR]
             a raw binary at ADDR (default 0x100000; 0x7c00 for raw16) in
             long, flat protected or real mode
ACPI and MP tables describing the machine are at 0xF0000 (not for rom).

The guest's COM1 serial port (0x3f8) is standard output, and standard
input when that is a file or a terminal. A guest write of value v to port
0xf4 (QEMU's isa-debug-exit) ends the run with exit status (v<<1)|1. Guest
halt with interrupts off, ACPI power-off (S5) or a reset through 0xCF9
exits 0; a triple fault exits 3 and prints the vCPU's registers on
standard error; an emulator or VM_RUN failure exits 4; a guest whose
vCPUs all wait in HLT with nothing armed that could wake them (and no
terminal input or --timeout) exits 8 with a message and the registers; a
guest stopped by --max-insns or --timeout exits 124 with a message and
its registers on standard error. softvmm's own failures are even: 2 for
bad usage, 6 when the image or the VM cannot be set up or an output (the
guest's console on standard output, --trace, --trace-exits, --debugcon)
cannot be written.

With --cpus N the BSP starts the APs with INIT/SIPI, and the vCPUs take
turns of --quantum instructions in id order on one thread, so every run
interleaves them the same way.

Flags:
`

type runFlags struct {
	mem   uint64
	stats bool
	clock vclock.Mode
	bootFlags
	smpFlags
}

func cmdRun(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cmdRunIn(nil, nil, args, stdin, stdout, stderr)
}

// cmdRunIn is `softvmm run` as td in kernel k (`softvmm jail ...
// command=run` runs it inside a jail); a nil k is a fresh kernel with vmm
// loaded, run as host root.
func cmdRunIn(k *vmm.Kernel, td *vmm.Thread, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	// The flag package prints its message and the usage while parsing;
	// collect them, so --help goes to stdout (and exits 0) and a bad
	// flag's text to stderr, each once.
	var parseOut strings.Builder
	fs.SetOutput(&parseOut)
	var rf runFlags
	memFlag := sizeFlag{v: vmmapi.DefaultMem}
	fs.Var(&memFlag, "mem", "guest RAM `SIZE` in bytes, or with a K, M or G suffix (1M at least)")
	fs.Func("clock", "VM clock: `virtual` (default; time advances with retired instructions, 1 ns each, so every run is identical) or realtime (the host's monotonic clock, as bhyve)", func(v string) error {
		switch v {
		case "virtual":
			rf.clock = vclock.Virtual
		case "realtime":
			rf.clock = vclock.Realtime
		default:
			return fmt.Errorf("want virtual or realtime, got %q", v)
		}
		return nil
	})
	fs.BoolVar(&rf.stats, "stats", false, "print every vCPU's VM_STATS counters on standard error when the run ends")
	rf.bootFlags.register(fs)
	rf.smpFlags.register(fs)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), runUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, parseOut.String())
			return exitOK
		}
		fmt.Fprint(stderr, "softvmm run: "+parseOut.String())
		return exitUsage
	}
	rf.mem = memFlag.v
	if rf.mem < minMem {
		fmt.Fprintf(stderr, "softvmm run: --mem %s is too small: the platform's ACPI and MP tables and the BIOS area need the first %s\n", memFlag.String(), (&sizeFlag{v: minMem}).String())
		return exitUsage
	}
	if err := rf.bootFlags.finish(); err != nil {
		fmt.Fprintf(stderr, "softvmm run: %v\n", err)
		return exitUsage
	}
	if err := rf.smpFlags.finish(); err != nil {
		fmt.Fprintf(stderr, "softvmm run: %v\n", err)
		return exitUsage
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "softvmm run: one IMAGE at most, got %d\n", fs.NArg())
		return exitUsage
	}
	image, imageName := demoELF, "demo guest"
	if fs.NArg() == 1 {
		imageName = fs.Arg(0)
		b, err := readImage(imageName, rf.mem)
		if err != nil {
			fmt.Fprintf(stderr, "softvmm run: %v\n", err)
			return exitSetup
		}
		image = b
	}
	out := bufio.NewWriter(stdout)
	status := runImage(k, td, image, imageName, &rf, stdin, out, stderr)
	// The guest's console is an output file too: a CI job that reads it
	// must not get a short log and status 0 (bufio keeps the first
	// write error).
	if err := out.Flush(); err != nil {
		fmt.Fprintf(stderr, "softvmm run: writing the guest's output: %v (the guest's own status was %d)\n", err, status)
		return exitSetup
	}
	return status
}

// runImage is bhyveload and bhyve in one: create the VM through the
// emulated kernel k as td (a fresh kernel and host root when k is nil),
// load the image, and loop on VM_RUN, handling in userspace what bhyve's
// userspace handles.
func runImage(k *vmm.Kernel, td *vmm.Thread, image []byte, imageName string, rf *runFlags, stdin io.Reader, out *bufio.Writer, stderr io.Writer) int {
	if k == nil {
		h := jail.NewHost()
		k = vmm.NewKernel(h)
		if err := k.Load(); err != nil {
			fmt.Fprintf(stderr, "softvmm run: kldload vmm: %v\n", err)
			return exitSetup
		}
		td = &vmm.Thread{Cred: h.RootCred()}
	}
	const name = "softvmm"
	if err := vmmapi.Create(k, td, name); err != nil {
		fmt.Fprintf(stderr, "softvmm run: hw.vmm.create: %v\n", err)
		return exitSetup
	}
	ctx, err := vmmapi.Open(k, td, name)
	if err != nil {
		fmt.Fprintf(stderr, "softvmm run: open /dev/vmm/%s: %v\n", name, err)
		return exitSetup
	}
	defer ctx.Destroy()
	if err := ctx.Dev().VM().SetClockMode(rf.clock); err != nil {
		fmt.Fprintf(stderr, "softvmm run: clock: %v\n", err)
		return exitSetup
	}
	if err := ctx.Dev().VM().SetCooperative(true); err != nil {
		fmt.Fprintf(stderr, "softvmm run: cooperative vCPU scheduling: %v\n", err)
		return exitSetup
	}
	// bhyve -c N: N sockets of one core and one thread each (§11), what
	// the tables and CPUID's one logical processor per package say.
	topo := abi.VMCPUTopology{Sockets: uint16(rf.cpus), Cores: 1, Threads: 1}
	if err := ctx.Dev().Ioctl(ctx.Thread(), abi.VM_SET_TOPOLOGY, &topo); err != nil {
		fmt.Fprintf(stderr, "softvmm run: VM_SET_TOPOLOGY: %v\n", err)
		return exitSetup
	}
	if err := ctx.SetupMemory(rf.mem); err != nil {
		fmt.Fprintf(stderr, "softvmm run: guest memory of %d bytes: %v\n", rf.mem, err)
		return exitSetup
	}
	if _, err := loadGuest(ctx, image, imageName, rf); err != nil {
		fmt.Fprintf(stderr, "softvmm run: %s: %v\n", imageName, err)
		if errors.As(err, new(usageError)) {
			return exitUsage
		}
		return exitSetup
	}
	if err := ctx.ActivateCPU(0); err != nil {
		fmt.Fprintf(stderr, "softvmm run: VM_ACTIVATE_CPU: %v\n", err)
		return exitSetup
	}
	files, err := openRunFiles(rf)
	if err != nil {
		fmt.Fprintf(stderr, "softvmm run: %v\n", err)
		return exitSetup
	}
	defer files.close() // on early returns; the normal path checks its error below
	m := newMachine(ctx, rf, stdin, out, files.debugcon)
	tr := files.tracer(ctx)
	lim, err := startLimits(ctx, rf)
	if err != nil {
		fmt.Fprintf(stderr, "softvmm run: %v\n", err)
		return exitSetup
	}
	defer lim.stop()
	prog := startProgress(ctx, stderr, rf)
	defer prog.stop()
	stderr = prog.guard(stderr)

	if rf.stats {
		defer printStats(ctx, rf.cpus, stderr)
	}
	s := &sched{ctx: ctx, rf: rf, m: m, tr: tr, lim: lim, out: out, stderr: stderr}
	status := s.loop()
	tr.flush()
	if err := files.close(); err != nil {
		fmt.Fprintf(stderr, "softvmm run: %v (the guest's own status was %d)\n", err, status)
		return exitSetup
	}
	return status
}

// dumpRegs prints vCPU id's registers the way a person debugging a guest
// wants them: general registers, RIP/RFLAGS, control registers.
func dumpRegs(ctx *vmmapi.VMCtx, id int, w io.Writer) {
	regs := []int32{
		abi.VM_REG_GUEST_RAX, abi.VM_REG_GUEST_RBX, abi.VM_REG_GUEST_RCX, abi.VM_REG_GUEST_RDX,
		abi.VM_REG_GUEST_RSI, abi.VM_REG_GUEST_RDI, abi.VM_REG_GUEST_RBP, abi.VM_REG_GUEST_RSP,
		abi.VM_REG_GUEST_R8, abi.VM_REG_GUEST_R9, abi.VM_REG_GUEST_R10, abi.VM_REG_GUEST_R11,
		abi.VM_REG_GUEST_R12, abi.VM_REG_GUEST_R13, abi.VM_REG_GUEST_R14, abi.VM_REG_GUEST_R15,
		abi.VM_REG_GUEST_RIP, abi.VM_REG_GUEST_RFLAGS, abi.VM_REG_GUEST_CR0, abi.VM_REG_GUEST_CR2,
		abi.VM_REG_GUEST_CR3, abi.VM_REG_GUEST_CR4, abi.VM_REG_GUEST_EFER, abi.VM_REG_GUEST_CS,
		abi.VM_REG_GUEST_SS, abi.VM_REG_GUEST_DS, abi.VM_REG_GUEST_TR,
	}
	for i, r := range regs {
		v, err := ctx.GetRegister(id, r)
		if err != nil {
			continue
		}
		sep := "  "
		if i%4 == 3 || i == len(regs)-1 {
			sep = "\n"
		}
		fmt.Fprintf(w, "%6s=%016x%s", abi.RegName(r), v, sep)
	}
	// The descriptor tables, which a triple fault most often comes from.
	for _, r := range []int32{abi.VM_REG_GUEST_GDTR, abi.VM_REG_GUEST_IDTR} {
		if d, err := ctx.GetDesc(id, r); err == nil {
			fmt.Fprintf(w, "%6s=%016x limit %#x\n", abi.RegName(r), d.Base, d.Limit)
		}
	}
}

// minMem is the least guest memory a run can use: the tables and the
// BIOS area (0xE0000-0xFFFFF) lie below 1 MiB.
const minMem = 1 << 20

// lineFlusher flushes the buffered stdout after each newline the guest
// prints, so a person watching a long run sees whole lines as they come
// while a chatty guest still costs one write per line, not per byte.
type lineFlusher struct{ w *bufio.Writer }

func (l lineFlusher) Write(p []byte) (int, error) {
	n, err := l.w.Write(p)
	if err == nil && strings.IndexByte(string(p), '\n') >= 0 {
		err = l.w.Flush()
	}
	return n, err
}

// sizeFlag parses a byte count with an optional K, M or G suffix.
type sizeFlag struct{ v uint64 }

// String shows the size the way a person would type it (256M), which is
// also how --help prints the default.
func (s *sizeFlag) String() string {
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"G", 30}, {"M", 20}, {"K", 10}} {
		if s.v != 0 && s.v&(1<<u.shift-1) == 0 {
			return strconv.FormatUint(s.v>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatUint(s.v, 10)
}

func (s *sizeFlag) Set(v string) error {
	mult := uint64(1)
	switch {
	case strings.HasSuffix(v, "K") || strings.HasSuffix(v, "k"):
		mult, v = 1<<10, v[:len(v)-1]
	case strings.HasSuffix(v, "M") || strings.HasSuffix(v, "m"):
		mult, v = 1<<20, v[:len(v)-1]
	case strings.HasSuffix(v, "G") || strings.HasSuffix(v, "g"):
		mult, v = 1<<30, v[:len(v)-1]
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 || n > (1<<47)/mult {
		return fmt.Errorf("bad size %q", v)
	}
	n *= mult
	if n%4096 != 0 {
		return fmt.Errorf("size %d is not a multiple of 4096", n)
	}
	s.v = n
	return nil
}

// printStats prints each vCPU's counters the way bhyvectl --get-stats
// does: VM_STATS for the values, VM_STAT_DESC for each one's name; with
// several vCPUs each block is headed "vcpuN stats:".
func printStats(ctx *vmmapi.VMCtx, cpus int, w io.Writer) {
	for id := 0; id < cpus; id++ {
		st := abi.VMStats{Cpuid: int32(id)}
		if err := ctx.Dev().Ioctl(ctx.Thread(), abi.VM_STATS, &st); err != nil {
			fmt.Fprintf(w, "softvmm run: VM_STATS: %v\n", err)
			return
		}
		if cpus > 1 {
			fmt.Fprintf(w, "vcpu%d stats:\n", id)
		}
		for i := int32(0); i < st.NumEntries; i++ {
			d := abi.VMStatDesc{Index: i}
			if err := ctx.Dev().Ioctl(ctx.Thread(), abi.VM_STAT_DESC, &d); err != nil {
				fmt.Fprintf(w, "softvmm run: VM_STAT_DESC %d: %v\n", i, err)
				return
			}
			fmt.Fprintf(w, "%-56s %d\n", d.DescString(), st.Statbuf[i])
		}
	}
}

// readImage reads an image file, refusing before it has read more than
// guest RAM could hold: no loader places more bytes than that, and an
// endless file (/dev/zero) or a huge one must fail with a message, not
// exhaust the host's memory. A ROM or Linux image also lives within RAM
// size here (a ROM is at most 16 MiB, far below any usable --mem).
func readImage(name string, mem uint64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not an image", name)
	}
	b, err := io.ReadAll(io.LimitReader(f, int64(mem)+1))
	if err != nil {
		return nil, err // *PathError: "read NAME: ..."
	}
	if uint64(len(b)) > mem {
		return nil, fmt.Errorf("%s: larger than guest memory (--mem %s)", name, (&sizeFlag{v: mem}).String())
	}
	return b, nil
}
