package jail

import (
	"errors"
	"strings"
	"testing"
)

// recorder is an Exec that notes each command and fails the one named
// fail, as a command exiting non-zero does.
type recorder struct {
	argvs []string
	fail  string
}

func (r *recorder) exec(_ Result, _ *Ucred, argv []string) error {
	r.argvs = append(r.argvs, strings.Join(argv, "|"))
	if strings.Join(argv, " ") == r.fail {
		return errors.New("failed")
	}
	return nil
}

// reference §2.2/§2.3, jail(8): exec.start is a list of commands run in
// turn ("+=" and comma lists add to it; an empty one is skipped), each
// split at white space; command= after them, one command of the words
// given.
func TestJail8CommandLists(t *testing.T) {
	for _, c := range []struct {
		conf string
		want string
	}{
		{`a { persist; exec.start = "run"; exec.start += "run testdata/exit33.elf"; }`, "run;run|testdata/exit33.elf"},
		{`a { persist; exec.start = "one 1", '', "two  2"; }`, "one|1;two|2"},
		{`* { exec.start = "w"; } a { persist; exec.start += "x"; }`, "w;x"},
		{`a { persist; command = "c1", "c2 z"; exec.start = "s"; }`, "s;c1;c2|z"},
		{`a { persist; exec.start = ''; }`, ""},
	} {
		h := NewHost()
		r := &recorder{}
		if _, err := h.Jail8(h.RootCred(), Request{Op: OpCreate, Conf: parse(t, c.conf), Exec: r.exec}); err != nil {
			t.Fatalf("%s: %v", c.conf, err)
		}
		if got := strings.Join(r.argvs, ";"); got != c.want {
			t.Errorf("%s: ran %q, want %q", c.conf, got, c.want)
		}
	}
	h := NewHost()
	r := &recorder{}
	_, err := h.Jail8(h.RootCred(), Request{Op: OpCreate, Exec: r.exec,
		Params: []string{"name=a", "persist", "exec.start=s 1", "command=run", "--mem", "16M", "x y"}})
	if err != nil || strings.Join(r.argvs, ";") != "s|1;run|--mem|16M|x y" {
		t.Fatalf("command line: ran %q, %v", r.argvs, err)
	}
}

// A failing command stops the sequence and the creation: jail(8) prints
// "jail: NAME: COMLINE: failed" and removes the jail, persist or not.
func TestJail8CommandFailureStops(t *testing.T) {
	h := NewHost()
	r := &recorder{fail: "run testdata/exit33.elf"}
	conf := `a { persist; exec.start = "run", "run testdata/exit33.elf", "after"; } b { persist; }`
	res, err := h.Jail8(h.RootCred(), Request{Op: OpCreate, Conf: parse(t, conf), Exec: r.exec})
	if err == nil || err.Error() != "jail: a: run testdata/exit33.elf: failed" {
		t.Fatalf("error %v", err)
	}
	if got := strings.Join(r.argvs, ";"); got != "run;run|testdata/exit33.elf" {
		t.Fatalf("ran %q: the command after the failing one ran", got)
	}
	if len(res) != 0 || len(h.Prisons()) != 0 {
		t.Fatalf("results %v, %d prisons: the failed jail stayed or b was made", res, len(h.Prisons()))
	}
}

// The command line in a failure message shows what was given: a word
// with white space in it or an empty one is quoted.
func TestJail8CommandFailureNamesWords(t *testing.T) {
	for _, c := range []struct {
		params []string
		want   string
	}{
		{[]string{"command=run x.elf"}, `jail: a: "run x.elf": failed`},
		{[]string{"command="}, `jail: a: "": failed`},
		{[]string{"command=", "run"}, `jail: a: "" "run": failed`},
		{[]string{"command=/bin/sh"}, `jail: a: /bin/sh: failed`},
	} {
		h := NewHost()
		fail := func(Result, *Ucred, []string) error { return errors.New("failed") }
		_, err := h.Jail8(h.RootCred(), Request{Op: OpCreate, Exec: fail, Params: append([]string{"name=a"}, c.params...)})
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: error %v, want %q", c.params, err, c.want)
		}
	}
}
