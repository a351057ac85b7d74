package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// `softvmm jail` (issue 7): jail(8) over the emulated kernel, with
// command=run booting a guest as the jail's root. The gate is vmm's own
// (reference/jail-and-security.md §1.9, §3.1): hw.vmm.create from a jail
// without allow.vmm is EPERM, which softvmm run reports as bhyve does.

func TestJailRunDemoWithAllowVMM(t *testing.T) {
	demo, err := os.ReadFile("../../testdata/demo.out")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, status := runMain(t, "jail", "-c", "name=demo", "allow.vmm", "command=run")
	if status != 0 {
		t.Fatalf("status %d; stderr:\n%s", status, errOut)
	}
	if want := "demo: created\n" + string(demo); out != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", out, want)
	}
}

func TestJailRunWithoutAllowVMM(t *testing.T) {
	out, errOut, status := runMain(t, "jail", "-c", "name=demo", "command=run")
	if status == 0 {
		t.Fatal("a jail without allow.vmm ran a VM")
	}
	if !strings.Contains(errOut, "hw.vmm.create: Operation not permitted") {
		t.Fatalf("stderr %q", errOut)
	}
	if strings.Contains(out, "softvmm demo guest") {
		t.Fatal("the guest ran")
	}
	// allow.novmm given after allow.vmm wins (§2.2: last one wins).
	_, errOut, status = runMain(t, "jail", "-c", "name=demo", "allow.vmm", "allow.novmm", "command=run")
	if status == 0 || !strings.Contains(errOut, "hw.vmm.create: Operation not permitted") {
		t.Fatalf("allow.vmm allow.novmm: status %d stderr %q", status, errOut)
	}
}

// §1.6, §2.2: allow.vmm exists only while vmm is loaded.
func TestJailAllowVMMUnknownWithoutModule(t *testing.T) {
	_, errOut, status := runMain(t, "jail", "--no-vmm", "-c", "name=demo", "allow.vmm", "command=run")
	if status != 1 || !strings.Contains(errOut, "jail: demo: unknown parameter: allow.vmm") {
		t.Fatalf("status %d stderr %q", status, errOut)
	}
	// Without it the jail works (the command then fails: no vmm, no
	// hw.vmm.create).
	_, errOut, status = runMain(t, "jail", "--no-vmm", "-c", "name=demo", "persist")
	if status != 0 {
		t.Fatalf("persist jail without vmm: status %d stderr %q", status, errOut)
	}
}

// The command's arguments follow command= and its exit status is
// softvmm jail's; a persistent jail outlives its command.
func TestJailCommandArgsAndStatus(t *testing.T) {
	out, errOut, status := runMain(t, "jail", "-c", "name=t", "persist", "allow.vmm", "command=run", "--mem", "16M", "../../testdata/exit33.elf",
		";", "-r", "t")
	if status != 33 {
		t.Fatalf("status %d, want exit33's 33; stderr %q", status, errOut)
	}
	if !strings.HasPrefix(out, "t: created\n") || strings.Contains(out, "t: removed") {
		t.Fatalf("stdout %q: the failed command stops the run before -r", out)
	}
	if !strings.Contains(errOut, "softvmm jail: t: run --mem 16M ../../testdata/exit33.elf: failed") {
		t.Fatalf("stderr %q", errOut)
	}
	_, errOut, status = runMain(t, "jail", "-c", "name=t", "allow.vmm", "command=run", "--mem", "12x")
	if status != 2 || !strings.Contains(errOut, "bad size") {
		t.Fatalf("bad run flag: status %d stderr %q", status, errOut)
	}
}

// -c, -m, -cm, -rc, -r and -R over one kernel, chained with ';', and a
// jail.conf (-f) whose exec.start runs the demo in a child jail.
func TestJailOperations(t *testing.T) {
	out, errOut, status := runMain(t, "jail",
		"-c", "name=a", "persist", "children.max=1", ";",
		"-m", "name=a", "allow.vmm", ";",
		"-cm", "name=a.b", "persist", "allow.vmm", "command=run", ";",
		"-cm", "name=a.b", "allow.novmm", ";",
		"-rc", "name=a", "persist", ";",
		"-r", "a", ";",
		"-i", "-c", "name=c", "persist", ";",
		"-q", "-R", "c")
	if status != 0 {
		t.Fatalf("status %d stderr %q", status, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	want := []string{"a: created", "a: updated", "a.b: created", "softvmm demo guest"}
	for i, w := range want {
		if i >= len(lines) || lines[i] != w {
			t.Fatalf("line %d: got %q, want %q\n%s", i, lines, w, out)
		}
	}
	// c's jid is 4: the allocator moves on past a's first jid 1, a.b's 2
	// and the re-created a's 3 (§1.4).
	tail := []string{"a.b: updated", "a: removed", "a: created", "a: removed", "4"}
	if got := lines[len(lines)-len(tail):]; strings.Join(got, "|") != strings.Join(tail, "|") {
		t.Fatalf("tail %q, want %q", got, tail)
	}

	conf := t.TempDir() + "/jail.conf"
	os.WriteFile(conf, []byte(`
persist;
host.hostname = "$name.example";
vmhost { allow.vmm; children.max = 1; }
vmhost.guest { allow.vmm; exec.start = "run --mem 32M"; }
`), 0o644)
	out, errOut, status = runMain(t, "jail", "-f", conf, "-c", ";", "-f", conf, "-r", "vmhost")
	if status != 0 {
		t.Fatalf("-f: status %d stderr %q", status, errOut)
	}
	if !strings.HasPrefix(out, "vmhost: created\nvmhost.guest: created\nsoftvmm demo guest\n") ||
		!strings.HasSuffix(out, "vmhost: removed\n") {
		t.Fatalf("-f stdout:\n%s", out)
	}
}

// reference/jail-and-security.md §3.5 and §4: allow.vmm is not enough
// when the jail's devfs ruleset hides /dev/vmm; a ruleset that unhides
// the vmm nodes is.
func TestJailDevfsRuleset(t *testing.T) {
	_, errOut, status := runMain(t, "jail", "-c", "name=demo", "allow.vmm", "devfs_ruleset=4", "command=run")
	if status == 0 || !strings.Contains(errOut, "open /dev/vmm/softvmm: No such file or directory") {
		t.Fatalf("ruleset 4: status %d stderr %q", status, errOut)
	}
	rules := t.TempDir() + "/devfs.rules"
	os.WriteFile(rules, []byte(`[devfsrules_bhyve_jail=25]
add include $devfsrules_jail
add path 'vmm' unhide
add path 'vmm/*' unhide
add path 'vmmctl' unhide
`), 0o644)
	out, errOut, status := runMain(t, "jail", "--devfs-rules="+rules, "-c", "name=demo", "allow.vmm", "devfs_ruleset=25", "command=run")
	if status != 0 || !strings.Contains(out, "softvmm demo guest") {
		t.Fatalf("ruleset 25: status %d stderr %q", status, errOut)
	}
	_, errOut, status = runMain(t, "jail", "--devfs-rules=/nonexistent", "-c", "name=a", "persist")
	if status != 1 || !strings.Contains(errOut, "/nonexistent") {
		t.Fatalf("missing rules file: status %d stderr %q", status, errOut)
	}
}

func TestJailUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"jail"}, 2, "one of -c, -m"},
		{[]string{"jail", "-x", "name=a"}, 2, "option -x is not supported"},
		{[]string{"jail", "-c"}, 2, "no parameters and no -f conf_file"},
		{[]string{"jail", "-f"}, 2, "option -f needs an argument"},
		{[]string{"jail", "--frob"}, 2, "unknown option --frob"},
		{[]string{"jail", "-m", "name=nosuch", "persist"}, 1, "jail: nosuch: jail not found"},
		{[]string{"jail", "-c", "name=a", "persist", "frob=1"}, 1, "jail: a: unknown parameter: frob"},
		{[]string{"jail", "-c", "name=a", "command=/bin/sh"}, 1, "jail: a: /bin/sh: not a softvmm command"},
		{[]string{"jail", "-f", "/nonexistent/jail.conf", "-c"}, 1, "jail: "},
	} {
		_, errOut, status := runMain(t, c.args...)
		if status != c.status || !strings.Contains(errOut, c.stderr) {
			t.Errorf("softvmm %q: status %d stderr %q; want %d and %q", c.args, status, errOut, c.status, c.stderr)
		}
	}
	out, _, status := runMain(t, "jail", "--help")
	if status != 0 || !strings.Contains(out, "allow.vmm") || !strings.Contains(out, "--era=2018") {
		t.Fatalf("--help: %d %q", status, out)
	}
}

// The acceptance commands through the built binary, as a shell runs them.
func TestJailBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := t.TempDir() + "/softvmm"
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ok := exec.Command(bin, "jail", "-c", "name=demo", "allow.vmm", "command=run")
	out, err := ok.Output()
	if err != nil || !strings.Contains(string(out), "softvmm demo guest") {
		t.Fatalf("with allow.vmm: %v\n%s", err, out)
	}
	var stderr strings.Builder
	no := exec.Command(bin, "jail", "-c", "name=demo", "command=run")
	no.Stderr = &stderr
	err = no.Run()
	ee, isExit := err.(*exec.ExitError)
	if !isExit || ee.ExitCode() == 0 || !strings.Contains(stderr.String(), "hw.vmm.create: Operation not permitted") {
		t.Fatalf("without allow.vmm: %v, stderr %q", err, stderr.String())
	}
}
