package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuild(t *testing.T) {
	a, err := build([]byte("\x7fELF fake busybox"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := build([]byte("\x7fELF fake busybox"))
	if !bytes.Equal(a, b) {
		t.Error("two builds differ")
	}
	for _, want := range []string{"bin/busybox\x00", "dev/console\x00", "init\x00", Marker, "poweroff -f", "TRAILER!!!"} {
		if !bytes.Contains(a, []byte(want)) {
			t.Errorf("archive lacks %q", want)
		}
	}
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Skip("cpio not installed")
	}
	cmd := exec.Command(cpio, "-t", "--quiet")
	cmd.Stdin = bytes.NewReader(a)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != "bin bin/busybox bin/sh dev dev/console proc init" {
		t.Errorf("cpio -t lists %v", got)
	}
}

func TestRunErrors(t *testing.T) {
	var e bytes.Buffer
	if st := run(nil, &e); st != 2 || !strings.Contains(e.String(), "usage") {
		t.Errorf("no args: %d %q", st, e.String())
	}
	e.Reset()
	if st := run([]string{"-busybox", "/nonexistent", "-o", filepath.Join(t.TempDir(), "x")}, &e); st != 1 || !strings.Contains(e.String(), "/nonexistent") {
		t.Errorf("missing busybox: %d %q", st, e.String())
	}
	e.Reset()
	bb := filepath.Join(t.TempDir(), "bb")
	os.WriteFile(bb, []byte("x"), 0o755)
	out := filepath.Join(t.TempDir(), "initramfs")
	if st := run([]string{"-busybox", bb, "-o", out}, &e); st != 0 {
		t.Fatalf("status %d: %s", st, e.String())
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		t.Errorf("no output: %v", err)
	}
}
