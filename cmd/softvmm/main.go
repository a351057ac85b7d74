// Command softvmm runs guests on softvmm, FreeBSD's vmm(4) rebuilt in Go as
// pure software.
//
//	softvmm run [flags] [IMAGE]   boot IMAGE (or the embedded demo guest)
//	softvmm jail [options] ...    jail(8) in the emulated kernel
//
// Run "softvmm run --help" or "softvmm jail --help" for the flags.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage: softvmm <command> [arguments]

softvmm is FreeBSD's vmm(4), the engine under bhyve, rebuilt as pure
software: an x86-64 interpreter behind an in-process /dev/vmm.

Commands:
  run [flags] [IMAGE]   boot IMAGE, or the embedded demo guest without one
  jail [options] ...    jail(8): make prisons and run commands in them
  help                  print this text

Run "softvmm run --help" or "softvmm jail --help" for their flags.
`

// Main is the whole program with its streams passed in, so tests run it
// in-process. It returns the exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdin, stdout, stderr)
	case "jail":
		return cmdJail(args[1:], stdin, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "softvmm: unknown command %q\n\n%s", args[0], usage)
	return 2
}
