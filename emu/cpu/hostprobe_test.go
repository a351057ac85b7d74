package cpu

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"softvmm/emu/cpu/internal/hostexec"
)

// The host fault probe: runs a list of encodings natively when some of
// them fault, which hostexec alone cannot do (the Go runtime turns a
// synchronous signal in non-Go code into a fatal error, not a panic one
// can recover). The test binary re-executes itself as a child
// (TestHostProbeChild with hostProbeEnv set) that runs the cases of a
// registered set one by one through hostexec.ExecFull and writes "ok N"
// on stdout after each; a signal kills it, the parent reads the signal
// and faulting PC from what the runtime printed, records that outcome for
// case N+1 and starts a new child at N+2 (two such chains share the
// list, one per core, each child told where its share ends). Both
// processes build the same deterministic case list, so nothing but the
// start and end indexes crosses the process boundary.
//
// How the child dies (checked by TestHostProbeSignals). SIGILL and
// SIGTRAP are _SigThrow in the Go runtime's signal table: its handler
// prints "SIGILL: illegal instruction" / "SIGTRAP: trace trap", then
// "PC=0x... m=N sigcode=N" (then a traceback that, for a PC outside Go,
// fails noisily with "panic during panic"), and exits with status 2; the
// parser takes the signal and the PC from those two lines. SIGSEGV, SIGBUS
// and SIGFPE are _SigPanic: the runtime would inject a panic on the
// faulting code's stack, which is not a goroutine stack, and die in
// newstack with a message that no longer names the signal; so the child
// first gives them their default action (hostexec.DefaultFaultSignals) and
// the parent reads them from the wait status, without a PC. Any other
// end is a test failure, never a guessed outcome.

const hostProbeEnv = "SOFTVMM_HOSTPROBE"

// hostOutcome is how one case ended on the host.
type hostOutcome struct {
	sig string // "" ran to its end; "SIGILL", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGTRAP"; "hang"
	pc  uint64 // faulting PC (0 when unknown)
}

// ud reports a host #UD of the instruction at CodeAddr (SIGILL there; a
// SIGILL further on is a following byte's, so the instruction itself ran).
func (o hostOutcome) ud() bool { return o.sig == "SIGILL" && o.pc == hostexec.CodeAddr }

func (o hostOutcome) String() string {
	if o.sig == "" {
		return "ran"
	}
	return fmt.Sprintf("%s at %#x", o.sig, o.pc)
}

// hostProbeSet builds a list of cases; run executes case i natively.
// build must give the same list in parent and child.
type hostProbeSet struct {
	build func(t testing.TB) (n int, run func(i int) error)
}

var hostProbeSets = map[string]*hostProbeSet{}

// TestHostProbeChild is the child's body; it is skipped in normal runs.
func TestHostProbeChild(t *testing.T) {
	spec := os.Getenv(hostProbeEnv)
	if spec == "" {
		t.Skip("host probe child only")
	}
	var name string
	var start, end int
	f := strings.Split(spec, ":")
	err := fmt.Errorf("want name:start:end")
	if len(f) == 3 {
		name = f[0]
		if start, err = strconv.Atoi(f[1]); err == nil {
			end, err = strconv.Atoi(f[2])
		}
	}
	set := hostProbeSets[name]
	if err != nil || set == nil {
		fmt.Fprintf(os.Stderr, "hostprobe: bad spec %q\n", spec)
		os.Exit(3)
	}
	if err := hostexec.DefaultFaultSignals(); err != nil {
		fmt.Fprintf(os.Stderr, "hostprobe: %v\n", err)
		os.Exit(3)
	}
	n, run := set.build(t)
	var line []byte
	for i := start; i < min(n, end); i++ {
		if err := run(i); err != nil {
			fmt.Fprintf(os.Stderr, "hostprobe: case %d: %v\n", i, err)
			os.Exit(3)
		}
		line = strconv.AppendInt(append(line[:0], "ok "...), int64(i), 10)
		os.Stdout.Write(append(line, '\n'))
	}
	os.Stdout.WriteString("end\n")
	os.Exit(0)
}

// hostProbeTimeout is how long a child may go without finishing a case.
const hostProbeTimeout = 20 * time.Second

// runHostProbe runs set name's n cases in children and returns each
// case's outcome; restarts counts the children started.
// Two chains of children share the cases (one per core of this machine;
// each child has the fixed hostexec addresses to itself).
func runHostProbe(t testing.TB, name string, n int) (out []hostOutcome, restarts int) {
	out = make([]hostOutcome, n)
	chains := min(2, runtime.NumCPU())
	starts := make([]int, chains+1)
	for c := range starts {
		starts[c] = n * c / chains
	}
	errs := make([]error, chains)
	counts := make([]int, chains)
	var wg sync.WaitGroup
	for c := 0; c < chains; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			end := starts[c+1]
			for next := starts[c]; next < end; {
				counts[c]++
				done, o, err := hostProbeChild(name, next, end)
				if err != nil {
					errs[c] = fmt.Errorf("host probe %s from case %d: %v", name, next, err)
					return
				}
				if done >= end {
					break
				}
				// The child finished cases next..done-1 and died in case done.
				out[done] = o
				next = done + 1
			}
		}(c)
	}
	wg.Wait()
	for c := range errs {
		if errs[c] != nil {
			t.Fatal(errs[c])
		}
		restarts += counts[c]
	}
	return out, restarts
}

// hostProbeChild runs one child from case start; it returns the first
// case it did not finish (n when it ended normally) and how that case
// ended.
func hostProbeChild(name string, start, end int) (int, hostOutcome, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostProbeChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d:%d", hostProbeEnv, name, start, end), "GOTRACEBACK=none")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return 0, hostOutcome{}, err
	}
	if err := cmd.Start(); err != nil {
		return 0, hostOutcome{}, err
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	next, ended, hung := start, false, false
	timer := time.NewTimer(hostProbeTimeout)
	defer timer.Stop()
read:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break read
			}
			if l == "end" {
				ended = true
				continue
			}
			var i int
			if _, err := fmt.Sscanf(l, "ok %d", &i); err == nil && i == next {
				next++
				timer.Reset(hostProbeTimeout)
			}
		case <-timer.C:
			hung = true
			cmd.Process.Kill()
			for range lines {
			}
			break read
		}
	}
	werr := cmd.Wait()
	if hung {
		return next, hostOutcome{sig: "hang"}, nil
	}
	if ended && werr == nil {
		return next, hostOutcome{}, nil
	}
	if os.Getenv("HOSTPROBE_DEBUG") != "" { // to study a child's report by hand
		fmt.Fprintf(os.Stderr, "child from %d: %v\n%s\n", start, werr, stderr.String())
	}
	o, ok := parseHostCrash(cmd.ProcessState, stderr.Bytes())
	if !ok {
		return 0, hostOutcome{}, fmt.Errorf("child ended at case %d with %v and no signal report:\n%s", next, werr, lastLines(stderr.String(), 20))
	}
	return next, o, nil
}

var (
	// "SIGILL: illegal instruction" then "PC=0x140010 m=0 sigcode=2".
	reThrow   = regexp.MustCompile(`(?m)^(SIG[A-Z]+): .*\nPC=(0x[0-9a-f]+) `)
	probeSigs = map[string]bool{"SIGILL": true, "SIGSEGV": true, "SIGBUS": true, "SIGFPE": true, "SIGTRAP": true}
)

// parseHostCrash reads the signal and PC of a child's death. The
// runtime's report of a SIGILL or SIGTRAP comes first: its traceback of a
// PC outside Go may fault in turn, and with SIGSEGV at its default action
// that second fault is what the wait status shows.
func parseHostCrash(ps *os.ProcessState, stderr []byte) (hostOutcome, bool) {
	if m := reThrow.FindSubmatch(stderr); m != nil && probeSigs[string(m[1])] {
		pc, err := strconv.ParseUint(string(m[2][2:]), 16, 64)
		return hostOutcome{sig: string(m[1]), pc: pc}, err == nil
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		name := map[syscall.Signal]string{syscall.SIGSEGV: "SIGSEGV", syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE"}[ws.Signal()]
		return hostOutcome{sig: name}, name != ""
	}
	return hostOutcome{}, false
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// hostProbeGuard checks that ExecFull can map its fixed addresses here.
func hostProbeGuard(t testing.TB) {
	if !hostexec.Available {
		t.Skip("no native execution on this host")
	}
	st := hostexec.FullState{}
	if err := hostexec.ExecFull([]byte{0x90}, &st, make([]byte, hostexec.WindowSize), make([]byte, 4096)); err != nil {
		t.Skip(err)
	}
}

// hostProbeCase is one native case: code at CodeAddr, registers, window.
type hostProbeCase struct {
	code []byte
	st   hostexec.FullState
	mem  []byte
}

var probeImage = make([]byte, 4096)

// execProbeCase runs k natively and then resets the x87 and SSE control
// state (FNINIT; LDMXCSR 0x1F80), so that a case that loaded a control
// word with unmasked exceptions or another rounding mode cannot make the
// runtime's own floating point fault in a later case.
func execProbeCase(k *hostProbeCase) error {
	st := k.st
	if err := hostexec.ExecFull(k.code, &st, k.mem, probeImage); err != nil {
		return err
	}
	var s hostexec.State
	// fninit; ldmxcsr [rip+2]; jmp +4; dd 0x1f80
	return hostexec.Exec([]byte{0xdb, 0xe3, 0x0f, 0xae, 0x15, 0x02, 0, 0, 0, 0xeb, 0x04, 0x80, 0x1f, 0, 0}, &s)
}

// The signals the probe tells apart, each from an instruction whose
// fault the SDM fixes: UD2 #UD (SIGILL), a load from an unmapped page
// #PF (SIGSEGV), a non-canonical RSP-based load #SS (SIGBUS on Linux),
// DIV by zero #DE (SIGFPE), INT3 #BP (SIGTRAP; the PC is the one after
// the INT3, the trap's return address), a NOP that runs, and a UD2 after
// a NOP (the PC tells the second instruction's #UD from the first's).
var probeSignalCases = []struct {
	code []byte
	want hostOutcome
}{
	{[]byte{0x0f, 0x0b}, hostOutcome{"SIGILL", hostexec.CodeAddr}},
	{[]byte{0x48, 0x8b, 0x03}, hostOutcome{"SIGSEGV", 0}}, // mov rax, [rbx] (rbx 0)
	{[]byte{0x48, 0x8b, 0x04, 0x24}, hostOutcome{"SIGBUS", 0}},
	{[]byte{0x48, 0xf7, 0xf1}, hostOutcome{"SIGFPE", 0}}, // div rcx (rcx 0)
	{[]byte{0xcc}, hostOutcome{"SIGTRAP", hostexec.CodeAddr + 1}},
	{[]byte{0x90}, hostOutcome{}},
	{[]byte{0x90, 0x0f, 0x0b}, hostOutcome{"SIGILL", hostexec.CodeAddr + 1}},
}

func init() {
	hostProbeSets["signals"] = &hostProbeSet{build: func(t testing.TB) (int, func(int) error) {
		mem := make([]byte, hostexec.WindowSize)
		return len(probeSignalCases), func(i int) error {
			k := &hostProbeCase{code: probeSignalCases[i].code, mem: mem}
			k.st.Regs[rSP] = dgStack
			if i == 2 {
				k.st.Regs[rSP] = 0x8000000000000000
			}
			return execProbeCase(k)
		}
	}}
}

// TestHostProbeSignals checks the probe itself: each signal is read back
// with the PC it was raised at, and cases after a crash still run.
func TestHostProbeSignals(t *testing.T) {
	hostProbeGuard(t)
	out, restarts := runHostProbe(t, "signals", len(probeSignalCases))
	for i, c := range probeSignalCases {
		if out[i] != c.want {
			t.Errorf("% x: host %v, want %v", c.code, out[i], c.want)
		}
	}
	if restarts != 6 {
		t.Errorf("%d children, want 6 (one per fault)", restarts)
	}
}
