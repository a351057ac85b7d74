// Command mkinitramfs builds the tiny initramfs `make linux-boot` boots:
// a static busybox, /dev/console, and an /init script that prints a marker
// line and the CPU count, then powers the machine off (busybox poweroff -f:
// reboot(2) with RB_POWER_OFF, which Linux turns into ACPI S5).
//
//	mkinitramfs -busybox PATH -o FILE
//
// The archive is written by softvmm's own cpio writer (emu/boot/cpio) and
// is byte-for-byte the same for the same busybox.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"

	"softvmm/emu/boot/cpio"
)

// Marker is the line /init prints; `make linux-boot` waits for it.
const Marker = "softvmm-initramfs: /init reached"

const initScript = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc
/bin/busybox mount -t proc proc /proc
/bin/busybox echo "` + Marker + `"
/bin/busybox echo "softvmm-initramfs: $(/bin/busybox grep -c ^processor /proc/cpuinfo) CPU(s) online"
/bin/busybox poweroff -f
`

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mkinitramfs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bb := fs.String("busybox", "", "static busybox `PATH` (Debian's busybox-static: /bin/busybox)")
	out := fs.String("o", "", "output `FILE`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *bb == "" || *out == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "usage: mkinitramfs -busybox PATH -o FILE")
		return 2
	}
	bin, err := os.ReadFile(*bb)
	if err != nil {
		fmt.Fprintf(stderr, "mkinitramfs: %v\n", err)
		return 1
	}
	a, err := build(bin)
	if err != nil {
		fmt.Fprintf(stderr, "mkinitramfs: %v\n", err)
		return 1
	}
	if err := os.WriteFile(*out, a, 0o644); err != nil {
		fmt.Fprintf(stderr, "mkinitramfs: %v\n", err)
		return 1
	}
	return 0
}

// build returns the archive.
func build(busybox []byte) ([]byte, error) {
	var b bytes.Buffer
	w := cpio.NewWriter(&b)
	for _, err := range []error{
		w.Dir("bin", 0o755),
		w.File("bin/busybox", 0o755, busybox),
		w.Symlink("bin/sh", "busybox"),
		w.Dir("dev", 0o755),
		w.CharDev("dev/console", 0o600, 5, 1),
		w.Dir("proc", 0o755),
		w.File("init", 0o755, []byte(initScript)),
		w.Close(),
	} {
		if err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}
