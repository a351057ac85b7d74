package main

import (
	"os"
	"strings"
	"testing"
)

// jail(8) (reference/jail-and-security.md §2.2, §2.3): exec.start is a
// list, "+=" appends to it, and its commands run one after the other; a
// failing one stops the rest and jail -c with it, its status being
// softvmm jail's.
func TestJailExecStartList(t *testing.T) {
	demo, err := os.ReadFile("../../testdata/demo.out")
	if err != nil {
		t.Fatal(err)
	}
	conf := t.TempDir() + "/jail.conf"
	os.WriteFile(conf, []byte(`a { allow.vmm; exec.start = "run"; exec.start += "run ../../testdata/exit33.elf"; }
b { persist; }
`), 0o644)
	out, errOut, status := runMain(t, "jail", "-f", conf, "-c")
	if status != 33 {
		t.Fatalf("status %d, want exit33's 33; stderr %q", status, errOut)
	}
	if !strings.HasPrefix(out, "a: created\n"+string(demo)) || strings.Contains(out, "b: created") {
		t.Fatalf("stdout %q: want a's demo run, then exit33's, and no b", out)
	}
	if !strings.Contains(errOut, "softvmm jail: a: run ../../testdata/exit33.elf: failed") {
		t.Fatalf("stderr %q", errOut)
	}
	// The failing command first: the demo after it never runs.
	os.WriteFile(conf, []byte(`a { allow.vmm; exec.start = "run ../../testdata/exit33.elf", "run"; }`), 0o644)
	out, _, status = runMain(t, "jail", "-f", conf, "-c")
	if status != 33 || strings.Contains(out, "softvmm demo guest") {
		t.Fatalf("status %d stdout %q: the command after the failing one ran", status, out)
	}
	// All succeed: both run, in order, and jail -c succeeds.
	os.WriteFile(conf, []byte(`a { allow.vmm; exec.start = "run"; exec.start += "run ../../testdata/hello.elf"; }`), 0o644)
	hello, _ := os.ReadFile("../../testdata/hello.out")
	out, errOut, status = runMain(t, "jail", "-f", conf, "-c")
	if status != 0 || out != "a: created\n"+string(demo)+string(hello) {
		t.Fatalf("status %d stderr %q stdout %q", status, errOut, out)
	}
}

func TestJailConfPathAsGiven(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ conf, want string }{
		{"/nonexistent.conf", "softvmm jail: open /nonexistent.conf: "},
		{dir, "softvmm jail: read " + dir + ": is a directory"},
		{"nonexistent-rel.conf", "softvmm jail: open nonexistent-rel.conf: "},
	} {
		_, errOut, status := runMain(t, "jail", "-f", c.conf, "-c")
		if status != exitJail || !strings.HasPrefix(errOut, c.want) {
			t.Errorf("-f %s: status %d stderr %q, want %q…", c.conf, status, errOut, c.want)
		}
	}
}

// A command softvmm cannot run is named as given, with what it accepts.
func TestJailBadCommandWords(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"command=run x.elf"}, []string{`softvmm jail: a: "run x.elf": not a softvmm command`, "command=run x.elf unquoted", `"run [run flags] [IMAGE]"`}},
		{[]string{"command="}, []string{`softvmm jail: a: "": empty command`, `"run [run flags] [IMAGE]"`}},
		{[]string{"command=/bin/sh", "-c", "x"}, []string{`softvmm jail: a: /bin/sh -c x: not a softvmm command`, `"run [run flags] [IMAGE]"`}},
	} {
		_, errOut, status := runMain(t, append([]string{"jail", "-c", "name=a"}, c.args...)...)
		for _, w := range c.want {
			if status != exitJail || !strings.Contains(errOut, w) {
				t.Errorf("%q: status %d stderr %q, want %q", c.args, status, errOut, w)
			}
		}
	}
}

func TestJailBadEra(t *testing.T) {
	_, errOut, status := runMain(t, "jail", "--era=1999", "-c", "name=a", "persist")
	if status != exitUsage || !strings.HasPrefix(errOut, `softvmm jail: bad --era value "1999": want current or 2018`) {
		t.Fatalf("status %d stderr %q", status, errOut)
	}
}

// A ';' may end the line, as in sh; an empty invocation between two may
// not.
func TestJailSemicolons(t *testing.T) {
	out, errOut, status := runMain(t, "jail", "-c", "name=a", "persist", ";", "-r", "a", ";")
	if status != 0 || out != "a: created\na: removed\n" {
		t.Fatalf("trailing ';': status %d stdout %q stderr %q", status, out, errOut)
	}
	for _, args := range [][]string{{"jail", ";"}, {"jail", "-c", "name=a", "persist", ";", ";", "-r", "a"}} {
		_, errOut, status := runMain(t, args...)
		if status != exitUsage || !strings.HasPrefix(errOut, "softvmm jail: empty invocation before ';'") {
			t.Errorf("%q: status %d stderr %q", args, status, errOut)
		}
	}
}

func TestHelpCommand(t *testing.T) {
	for cmd, want := range map[string]string{"run": "usage: softvmm run", "jail": "usage: softvmm jail", "help": "usage: softvmm <command>"} {
		out, errOut, status := runMain(t, "help", cmd)
		if status != 0 || errOut != "" || !strings.HasPrefix(out, want) {
			t.Errorf("help %s: status %d stdout %.40q stderr %q", cmd, status, out, errOut)
		}
	}
	_, errOut, status := runMain(t, "help", "frob")
	if status != 2 || !strings.Contains(errOut, `unknown command "frob"`) {
		t.Errorf("help frob: status %d stderr %q", status, errOut)
	}
}

// Every line a subcommand writes to stderr starts with its own name.
func TestErrorPrefixes(t *testing.T) {
	for _, c := range []struct {
		args   []string
		prefix string
	}{
		{[]string{"run", "--mem", "12x"}, "softvmm run: "},
		{[]string{"run", "a", "b"}, "softvmm run: "},
		{[]string{"run", "--max-insns", "100"}, "softvmm run: "},
		{[]string{"run", "/nonexistent.elf"}, "softvmm run: "},
		{[]string{"jail", "-c", "name=a", "frob=1"}, "softvmm jail: "},
		{[]string{"jail", "-m", "name=nosuch", "persist"}, "softvmm jail: "},
	} {
		_, errOut, _ := runMain(t, c.args...)
		if errOut == "" {
			t.Errorf("%q: no error", c.args)
		}
		// The error is the first line (usage text or a register dump
		// may follow it).
		line, _, _ := strings.Cut(errOut, "\n")
		if !strings.HasPrefix(line, c.prefix) {
			t.Errorf("%q: stderr line %q lacks its subcommand's prefix %q", c.args, line, c.prefix)
		}
	}
	_, errOut, _ := runMain(t, "jail", "-c", "name=demo", "command=run")
	if errOut != "softvmm run: hw.vmm.create: Operation not permitted\nsoftvmm jail: demo: run: failed\n" {
		t.Errorf("jailed run without allow.vmm: stderr %q", errOut)
	}
}
