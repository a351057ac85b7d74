package cpio

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func archive(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	w := NewWriter(&b)
	for _, err := range []error{
		w.Dir("bin", 0o755),
		w.File("bin/hello", 0o755, []byte("#!/bin/sh\necho hi\n")),
		w.Symlink("bin/sh", "hello"),
		w.Dir("dev", 0o755),
		w.CharDev("dev/console", 0o600, 5, 1),
		w.File("odd", 0o644, []byte("abc")), // not a multiple of 4
		w.Close(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// The format, by hand (buffer-format.rst): the first header and name.
func TestNewcHeader(t *testing.T) {
	a := archive(t)
	want := "070701" + "00000001" + "000041ed" + "00000000" + "00000000" + "00000002" + "00000000" +
		"00000000" + "00000000" + "00000000" + "00000000" + "00000000" + "00000004" + "00000000" + "bin\x00"
	if got := string(a[:len(want)]); got != want {
		t.Errorf("first entry\n%q\nwant\n%q", got, want)
	}
	if len(a)%4 != 0 {
		t.Errorf("archive length %d not a multiple of 4", len(a))
	}
	if !strings.Contains(string(a), "TRAILER!!!\x00") {
		t.Error("no trailer")
	}
	if !bytes.Equal(a, archive(t)) {
		t.Error("two builds differ")
	}
}

func TestBadNames(t *testing.T) {
	w := NewWriter(&bytes.Buffer{})
	for _, n := range []string{"", "/abs", "a\x00b"} {
		if err := w.File(n, 0o644, nil); err == nil {
			t.Errorf("name %q accepted", n)
		}
	}
	w.Close()
	if err := w.File("late", 0o644, nil); err == nil {
		t.Error("write after Close accepted")
	}
}

// GNU cpio, a reader nobody here wrote, lists and extracts the archive.
func TestGNUCpioReads(t *testing.T) {
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Skip("cpio not installed (apt-get install cpio)")
	}
	a := archive(t)
	cmd := exec.Command(cpio, "-t", "-v", "--quiet")
	cmd.Stdin = bytes.NewReader(a)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -t: %v\n%s", err, out)
	}
	for _, want := range []string{"drwxr-xr-x", "bin/hello", "bin/sh -> hello", "crw-------", "5,", "dev/console", "odd"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("cpio -tv output lacks %q:\n%s", want, out)
		}
	}
	dir := t.TempDir()
	cmd = exec.Command(cpio, "-i", "-d", "--quiet", "--no-absolute-filenames", "--nonmatching", "dev/*")
	cmd.Dir, cmd.Stdin = dir, bytes.NewReader(a)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "bin/hello")); string(b) != "#!/bin/sh\necho hi\n" {
		t.Errorf("extracted bin/hello = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "odd")); string(b) != "abc" {
		t.Errorf("extracted odd = %q", b)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "bin/sh")); l != "hello" {
		t.Errorf("bin/sh -> %q", l)
	}
}
