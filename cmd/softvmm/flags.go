package main

import (
	"flag"
	"fmt"
	"time"
)

// bootFlags are the flags for choosing the boot format, feeding kernels
// their arguments, bounding a run, and tracing it.
type bootFlags struct {
	bootArg    string
	boot       bootSpec
	append     string
	appendSet  bool
	initrd     string
	maxInsns   uint64
	timeout    time.Duration
	trace      string
	traceExits string
	debugcon   string
}

func (b *bootFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.bootArg, "boot", "", "boot `FORMAT`: elf64, multiboot, linux, rom, or raw16/raw32/raw64[:ADDR] (default: detected from the image)")
	fs.Func("append", "kernel command `LINE` for multiboot and Linux kernels, as QEMU's -append", func(s string) error {
		b.append, b.appendSet = s, true
		return nil
	})
	fs.StringVar(&b.initrd, "initrd", "", "Linux initial ramdisk `FILE`; for multiboot, modules \"FILE ARGS,FILE ARGS\"; as QEMU's -initrd")
	fs.Uint64Var(&b.maxInsns, "max-insns", 0, "stop the guest after `N` instructions (exactly; 0: no limit)")
	fs.DurationVar(&b.timeout, "timeout", 0, "stop the guest after `DURATION` of wall time (0: no limit)")
	fs.StringVar(&b.trace, "trace", "", "write one line per guest instruction to `FILE` (vCPU, RIP, bytes, GNU disassembly); single-steps the guest")
	fs.StringVar(&b.traceExits, "trace-exits", "", "write one line per VM exit to `FILE`")
	fs.StringVar(&b.debugcon, "debugcon", "", "write what the guest sends to port 0x402 (QEMU's debugcon) to `FILE`")
}

// finish checks and converts the values after parsing.
func (b *bootFlags) finish() error {
	spec, err := parseBoot(b.bootArg)
	if err != nil {
		return err
	}
	b.boot = spec
	if b.timeout < 0 {
		return fmt.Errorf("--timeout %v is negative", b.timeout)
	}
	return nil
}
