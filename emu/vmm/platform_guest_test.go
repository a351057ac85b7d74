package vmm_test

import (
	"bytes"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"softvmm/devices/vclock"
	"softvmm/emu/abi"
	"softvmm/emu/boot"
	"softvmm/emu/userdev"
	"softvmm/emu/vmm"
	"softvmm/emu/vmmapi"
	"softvmm/jail"
)

// Guest-level platform tests (issue 5 acceptance): the timer guests of
// testdata/ (plat.S + one device file each) program a device, count its
// interrupts over a window of TSC time, and report; see plat.S for the
// report format. The oracles are the device rates of
// reference/vmm-devices.md §0 and the documented virtual rate (one
// instruction = 1 ns, vmm.VirtualHz), never the code under test.

// newCtx loads a vmm module on a fresh host and creates and opens VM name
// as root; the VM is destroyed when the test ends.
func newCtx(t *testing.T, name string) *vmmapi.VMCtx {
	t.Helper()
	h := jail.NewHost()
	k := vmm.NewKernel(h)
	if err := k.Load(); err != nil {
		t.Fatal(err)
	}
	td := &vmm.Thread{Cred: h.RootCred()}
	if err := vmmapi.Create(k, td, name); err != nil {
		t.Fatal(err)
	}
	ctx, err := vmmapi.Open(k, td, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ctx.Destroy() })
	return ctx
}

type guestRun struct {
	out     string
	a, b, e uint32   // counts after phase A and at the end; ns from t0 to the end
	trace   []uint32 // ns from t0 of each interrupt
	extra   []uint32 // P=/Q= lines (pmtimer)
	elapsed time.Duration
}

type guestOpts struct {
	mode   vclock.Mode
	scale  uint8
	legacy bool // HPET legacy replacement
}

// runPlatGuest boots emu/vmm/testdata/NAME.elf and runs it to its final
// halt, bhyve-style: COM1 and debug-exit in userspace.
func runPlatGuest(t *testing.T, name string, o guestOpts) guestRun {
	t.Helper()
	ctx := newCtx(t, "p")
	td := ctx.Thread()
	vm := ctx.Dev().VM()
	if err := vm.SetClockMode(o.mode); err != nil {
		t.Fatal(err)
	}
	if o.legacy {
		if err := vm.SetHPETLegacyReplacement(true); err != nil {
			t.Fatal(err)
		}
	}
	if err := ctx.SetupMemory(16 << 20); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile("testdata/" + name + ".elf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boot.LoadELF64(ctx, img, ctx.Lowmem()); err != nil {
		t.Fatal(err)
	}
	if err := ctx.ActivateCPU(0); err != nil {
		t.Fatal(err)
	}
	if o.scale != 0 {
		if err := ctx.Dev().Ioctl(td, abi.VM_RTC_WRITE, &abi.VMRtcData{Offset: 0x40, Value: o.scale}); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	ports := &userdev.PortBus{}
	ports.Register(userdev.COM1Base, userdev.COM1Size, userdev.NewUART(&out))
	start := time.Now()
	var firstOut time.Time
	var ex abi.VMExit
	for done := false; !done; {
		if err := ctx.Run(0, &ex); err != nil {
			t.Fatalf("%s: VM_RUN: %v (%v)\n%s", name, err, vm.LastError(0), out.String())
		}
		switch ex.Exitcode {
		case abi.VM_EXITCODE_INOUT:
			io := ex.Inout()
			if firstOut.IsZero() && io.Port >= userdev.COM1Base && io.Port < userdev.COM1Base+userdev.COM1Size {
				firstOut = time.Now()
			}
			val, _ := ports.Dispatch(io.Port, int(io.Bytes), io.In, io.EAX)
			if io.In {
				rax, _ := ctx.GetRegister(0, abi.VM_REG_GUEST_RAX)
				mask := uint64(1)<<(8*uint(io.Bytes)) - 1
				ctx.SetRegister(0, abi.VM_REG_GUEST_RAX, rax&^mask|uint64(val)&mask)
			}
		case abi.VM_EXITCODE_SUSPENDED:
			done = true
		case abi.VM_EXITCODE_REQIDLE, abi.VM_EXITCODE_BOGUS:
		default:
			t.Fatalf("%s: exit %s at rip %#x\n%s", name, abi.ExitcodeName(ex.Exitcode), ex.Rip, out.String())
		}
	}
	// The report starts right after the guest's last TSC reading, so the
	// host's view of the run ends at the first byte of it.
	r := guestRun{out: out.String(), elapsed: firstOut.Sub(start)}
	for _, line := range strings.Split(r.out, "\n") {
		if len(line) < 3 || line[1] != '=' {
			continue
		}
		v, err := strconv.ParseUint(line[2:], 16, 32)
		if err != nil {
			t.Fatalf("%s: bad report line %q", name, line)
		}
		switch line[0] {
		case 'A':
			r.a = uint32(v)
		case 'B':
			r.b = uint32(v)
		case 'E':
			r.e = uint32(v)
		case 'T':
			r.trace = append(r.trace, uint32(v))
		case 'P', 'Q':
			r.extra = append(r.extra, uint32(v))
		}
	}
	if !strings.Contains(r.out, "A=") || strings.Contains(r.out, "unexpected") {
		t.Fatalf("%s: report:\n%s", name, r.out)
	}
	return r
}

// periodNS is the exact length in ns of a device period of p sbintime
// units (2^-32 s) as a rational, computed with big integers.
func periodNS(p int64) *big.Rat {
	return new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(p), big.NewInt(1e9)), new(big.Int).Lsh(big.NewInt(1), 32))
}

type timerGuest struct {
	name    string
	sbt     int64 // the period in sbintime, from reference/vmm-devices.md §0
	n, hltN uint32
	oneShot bool
	legacy  bool
	// hpetRate: the first interrupt comes when the counter, started at 0,
	// reaches the comparator that vhpet_start_timer moved by
	// ((counter − comparator)/period + 1)·period in uint32 arithmetic
	// (reference/vmm-devices.md §6.5), not one period after enabling.
	hpetRate uint32
}

// firstNS is the exact instant of the first interrupt after programming.
func (g timerGuest) firstNS() *big.Rat {
	if g.hpetRate == 0 {
		return periodNS(g.sbt)
	}
	c, r, counter := g.hpetRate, g.hpetRate, uint32(0)
	c += ((counter-c)/r + 1) * r
	return periodNS(int64(c) * 256)
}

var timerGuests = []timerGuest{
	// LAPIC: 2^27 Hz / DCR, exactly 32·d sbintime per tick.
	{name: "lapic_periodic", sbt: 134218 * 32, n: 10, hltN: 5},
	{name: "lapic_oneshot", sbt: 25166 * 32 * 16, n: 2, oneShot: true},
	// HPET: 2^24 Hz, 256 sbintime per tick.
	{name: "hpet_periodic", sbt: 16777 * 256, n: 10, hltN: 5, hpetRate: 16777},
	{name: "hpet_legacy", sbt: 8389 * 256, n: 10, hltN: 5, legacy: true, hpetRate: 8389},
	// PIT: FreeBSD 12's 3599 sbintime per tick (§12 #2, reproduced).
	{name: "pit_8259", sbt: 1193 * 3599, n: 10, hltN: 5},
	{name: "pit_ioapic", sbt: 2386 * 3599, n: 10, hltN: 5},
	// RTC: rate select 6 is 1024 Hz, SBT_1S/1024.
	{name: "rtc_periodic", sbt: 1 << 22, n: 10, hltN: 5},
}

func (g timerGuest) wantCounts(scale uint32) (a, b uint32) {
	if g.oneShot {
		return 1, 1
	}
	return scale * g.n, scale*g.n + g.hltN
}

// checkTrace: in virtual mode an interrupt is raised at the instruction
// its deadline falls on, and the handler reads the TSC a fixed number of
// instructions later, so consecutive stamps differ by the period rounded
// to whole nanoseconds: floor or ceil of the exact value, never more. The
// first stamp is at firstNS after the programming instant, which lies a
// few instructions before t0, plus the handler's few instructions.
func checkTrace(t *testing.T, g timerGuest, r guestRun) {
	t.Helper()
	p := periodNS(g.sbt)
	lo := new(big.Int).Quo(p.Num(), p.Denom()).Int64()
	hi := lo
	if !p.IsInt() {
		hi++
	}
	if len(r.trace) == 0 {
		t.Fatalf("%s: no trace", g.name)
	}
	f := g.firstNS()
	fns := new(big.Int).Quo(f.Num(), f.Denom()).Int64()
	if first := int64(r.trace[0]); first > fns+40 || first < fns-40 {
		t.Errorf("%s: first interrupt at %d ns from t0, want %d ± 40", g.name, first, fns)
	}
	for i := 1; i < len(r.trace); i++ {
		d := int64(r.trace[i]) - int64(r.trace[i-1])
		if d != lo && d != hi {
			t.Errorf("%s: interrupts %d and %d are %d ns apart, want %d or %d (period %s ns)",
				g.name, i-1, i, d, lo, hi, p.FloatString(3))
		}
	}
}

func TestTimerGuestsVirtual(t *testing.T) {
	for i, g := range timerGuests {
		g := g
		if raceOn && i%3 != 0 {
			continue // a subset under the race detector (race_on_test.go)
		}
		t.Run(g.name, func(t *testing.T) {
			r1 := runPlatGuest(t, g.name, guestOpts{legacy: g.legacy})
			wa, wb := g.wantCounts(1)
			if r1.a != wa || r1.b != wb {
				t.Fatalf("counts A=%d B=%d, want A=%d B=%d\n%s", r1.a, r1.b, wa, wb, r1.out)
			}
			checkTrace(t, g, r1)
			if raceOn {
				return
			}
			r2 := runPlatGuest(t, g.name, guestOpts{legacy: g.legacy})
			if r1.out != r2.out {
				t.Fatalf("two runs differ:\n%s\n---\n%s", r1.out, r2.out)
			}
		})
	}
}

// The same guests on the realtime clock: the guest's TSC (host
// nanoseconds there) over its run agrees with the host's elapsed time
// within 1 %, and when no expiry was lost the run lasts what the device's
// period says, within 1 %. The counts cannot be exact there: when the host
// deschedules the vCPU for longer than a period, expiries coalesce in IRR
// (as they do under bhyve on an overcommitted host; on this project's
// shared 2-core machines under load a third of them can be), so the test
// requires at most the exact count and logs what it got.
func TestTimerGuestsRealtime(t *testing.T) {
	if testing.Short() {
		t.Skip("realtime guests run for seconds of host time")
	}
	const scale = 40
	for _, g := range timerGuests {
		g := g
		t.Run(g.name, func(t *testing.T) {
			// Host load (go test runs packages in parallel on two
			// cores) can stall the vCPU; three attempts.
			var msg string
			for try := 0; try < 3; try++ {
				r := runPlatGuest(t, g.name, guestOpts{mode: vclock.Realtime, scale: scale, legacy: g.legacy})
				if msg = checkRealtimeTimer(g, scale, r); msg == "" {
					t.Logf("%s: %d interrupts, guest %v, host %v", g.name, r.a, time.Duration(r.e), r.elapsed)
					return
				}
				t.Logf("attempt %d: %s", try+1, msg)
			}
			t.Error(msg)
		})
	}
}

func checkRealtimeTimer(g timerGuest, scale uint32, r guestRun) string {
	wa, _ := g.wantCounts(scale)
	if r.a > wa || r.a == 0 {
		return fmt.Sprintf("count A=%d, want %d (fewer only when expiries coalesce)", r.a, wa)
	}
	if msg := realtimeAgrees(r); msg != "" {
		return msg
	}
	// The device's own timing against the host: the run ends at the last
	// awaited expiry, (s·n + hlt_n) periods in, or for the one-shot at the
	// end of the window.
	p, _ := periodNS(g.sbt).Float64()
	want := float64(scale*g.n+g.hltN) * p
	if g.oneShot {
		want = (float64(scale*g.n) + 0.5) * p
	}
	// Host scheduling can only make the run longer (the vCPU is late to
	// see its deadlines), so the tolerance is 1% short and 5% long.
	if e := float64(r.elapsed); r.a == wa && (e < want*0.99 || e > want*1.05) {
		return fmt.Sprintf("ran %v of host time, the device says %v", r.elapsed, time.Duration(want))
	}
	return ""
}

// realtimeAgrees: the guest's TSC over its run and the host's elapsed
// time agree within 1 %.
func realtimeAgrees(r guestRun) string {
	guest := time.Duration(r.e)
	diff := r.elapsed - guest
	if diff < 0 {
		diff = -diff
	}
	if diff*100 > r.elapsed {
		return fmt.Sprintf("guest measured %v, host %v: more than 1%% apart", guest, r.elapsed)
	}
	return ""
}

// pmExpect is the PM timer's count at ns of VM time: (now / 1199) in
// sbintime (reference/vmm-devices.md §0, §8, §12 #4), with now = ns·2^32/1e9
// rounded down.
func pmExpect(ns uint32) uint32 {
	sbt := new(big.Int).Lsh(big.NewInt(int64(ns)), 32)
	sbt.Quo(sbt, big.NewInt(1e9))
	return uint32(sbt.Int64() / 1199)
}

func TestPMTimerGuest(t *testing.T) {
	r := runPlatGuest(t, "pmtimer", guestOpts{})
	if len(r.extra) != 4 {
		t.Fatalf("report:\n%s", r.out)
	}
	for i := 0; i < 4; i += 2 {
		if want := pmExpect(r.extra[i+1]); r.extra[i] != want {
			t.Errorf("PM timer read %d at %d ns, want %d", r.extra[i], r.extra[i+1], want)
		}
	}
	if r.extra[2]-r.extra[0] < 70000 {
		t.Errorf("PM timer advanced only %d over 20 ms", r.extra[2]-r.extra[0])
	}
	if raceOn {
		return
	}
	r2 := runPlatGuest(t, "pmtimer", guestOpts{})
	if r.out != r2.out {
		t.Fatalf("two runs differ:\n%s\n---\n%s", r.out, r2.out)
	}
	if testing.Short() {
		return
	}
	var msg string
	for try := 0; try < 3; try++ {
		rt := runPlatGuest(t, "pmtimer", guestOpts{mode: vclock.Realtime, scale: 40})
		msg = realtimeAgrees(rt)
		// 3,582,125 Hz (bhyve's rate, 0.072 % fast) against the host.
		ticks := float64(rt.extra[2] - rt.extra[0])
		if hz := ticks / float64(rt.elapsed) * 1e9; msg == "" && (hz < 3582125*0.99 || hz > 3582125*1.01) {
			msg = fmt.Sprintf("PM timer ran at %.0f Hz of host time", hz)
		}
		if msg == "" {
			return
		}
		t.Logf("attempt %d: %s", try+1, msg)
	}
	t.Error(msg)
}

// INIT then STARTUP from vCPU 0 through the xAPIC ICR: VM_RUN returns
// VM_EXITCODE_SPINUP_AP naming vCPU 1 and vector<<12 (reference/
// vmm-interface.md §7.4), with nextrip past the ICR write.
func TestIPISpinupGuest(t *testing.T) {
	ctx := newCtx(t, "i")
	ctx.SetupMemory(16 << 20)
	img, err := os.ReadFile("testdata/ipi.elf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := boot.LoadELF64(ctx, img, ctx.Lowmem()); err != nil {
		t.Fatal(err)
	}
	ctx.ActivateCPU(0)
	var ex abi.VMExit
	if err := ctx.Run(0, &ex); err != nil {
		t.Fatal(err)
	}
	sp := ex.SpinupAP()
	if ex.Exitcode != abi.VM_EXITCODE_SPINUP_AP || sp.Vcpu != 1 || sp.Rip != 0x9a000 {
		t.Fatalf("exit %s %+v, want SPINUP_AP {vcpu 1, rip 0x9a000}", abi.ExitcodeName(ex.Exitcode), sp)
	}
	// The guest goes on to cli; hlt: the VM suspends with HALT.
	if err := ctx.Run(0, &ex); err != nil {
		t.Fatal(err)
	}
	if ex.Exitcode != abi.VM_EXITCODE_SUSPENDED || ex.Suspended() != abi.VM_SUSPEND_HALT {
		t.Fatalf("then exit %s, want SUSPENDED(HALT)", abi.ExitcodeName(ex.Exitcode))
	}
}
