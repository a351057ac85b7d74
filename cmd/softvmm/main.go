// Command softvmm runs guests on softvmm, FreeBSD's vmm(4) rebuilt in Go as
// pure software.
//
//	softvmm run [flags] [IMAGE]   boot IMAGE (or the embedded demo guest)
//	softvmm jail [options] ...    jail(8) in the emulated kernel
//
// Run "softvmm help run" or "softvmm help jail" for the flags.
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
  help [COMMAND]        print this text, or COMMAND's

Run "softvmm help run" or "softvmm help jail" for their flags.
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
		if len(args) == 1 {
			fmt.Fprint(stdout, usage)
			return 0
		}
		// "help CMD" is "CMD --help": the command's own text.
		switch args[1] {
		case "run":
			return cmdRun([]string{"--help"}, stdin, stdout, stderr)
		case "jail":
			return cmdJail([]string{"--help"}, stdin, stdout, stderr)
		case "help":
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "softvmm help: unknown command %q\n\n%s", args[1], usage)
		return 2
	}
	fmt.Fprintf(stderr, "softvmm: unknown command %q\n\n%s", args[0], usage)
	return 2
}
