package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"softvmm/emu/abi"
	"softvmm/emu/boot"
	"softvmm/emu/boot/tables"
	"softvmm/emu/userdev"
	"softvmm/emu/vmmapi"
)

// bootSpec is a parsed --boot value: a format, and for raw binaries the
// mode and load address ("raw" or "raw64" long mode, "raw32" flat
// protected mode, "raw16" real mode; ":ADDR" defaults to 0x100000, or
// 0x7C00 for raw16).
type bootSpec struct {
	kind boot.Kind
	mode boot.RawMode
	addr uint64
}

func parseBoot(s string) (bootSpec, error) {
	if s == "" {
		return bootSpec{}, nil
	}
	name, addr, hasAddr := strings.Cut(s, ":")
	spec := bootSpec{addr: 0x100000}
	switch name {
	case "raw", "raw64":
		spec.kind, spec.mode = boot.KindRaw, boot.RawLong
	case "raw32":
		spec.kind, spec.mode = boot.KindRaw, boot.RawProtected
	case "raw16":
		spec.kind, spec.mode, spec.addr = boot.KindRaw, boot.RawReal, 0x7c00
	default:
		k, err := boot.ParseKind(name)
		if err != nil {
			return spec, fmt.Errorf("--boot: %v (or raw16, raw32, raw64 with :ADDR)", err)
		}
		if hasAddr {
			return spec, fmt.Errorf("--boot %s takes no address", name)
		}
		spec.kind = k
	}
	if hasAddr {
		a, err := strconv.ParseUint(addr, 0, 64)
		if err != nil {
			return spec, fmt.Errorf("--boot %s: bad address %q", name, addr)
		}
		spec.addr = a
	}
	return spec, nil
}

// loaded is what the runner needs to know about the boot afterwards.
type loaded struct {
	kind boot.Kind
}

// romTarget adds the boot-ROM mapping to the VM context.
type romTarget struct{ *vmmapi.VMCtx }

// loadGuest writes the platform tables, then loads the image the way its
// format says (boot.Detect, or --boot), so an image that overlaps the
// table area wins, as it would on real firmware that reloads it.
func loadGuest(ctx *vmmapi.VMCtx, image []byte, imageName string, rf *runFlags) (loaded, error) {
	spec := rf.boot
	if spec.kind == boot.KindUnknown {
		spec.kind = boot.Detect(image)
	}
	switch spec.kind {
	case boot.KindUnknown:
		return loaded{}, errors.New("not an ELF64 executable, a multiboot kernel or a Linux bzImage; for a ROM or a raw binary say --boot rom or --boot raw64[:ADDR] (raw32, raw16)")
	case boot.KindMultiboot, boot.KindLinux:
	default:
		if rf.appendSet {
			return loaded{}, usageError{fmt.Errorf("--append is for multiboot and Linux kernels; this image is %v", spec.kind)}
		}
	}
	if rf.apLong && spec.kind != boot.KindELF64 && !(spec.kind == boot.KindRaw && spec.mode == boot.RawLong) {
		// The long-mode AP state uses the page tables and GDT only those
		// loads write (boot.StartAPLongMode).
		return loaded{}, usageError{fmt.Errorf("--ap-start long is for elf64 and raw64 images, whose loader writes the page tables the APs start on; this image is %v", spec.kind)}
	}
	if rf.initrd != "" && spec.kind != boot.KindLinux && spec.kind != boot.KindMultiboot {
		return loaded{}, usageError{fmt.Errorf("--initrd is for Linux and multiboot kernels; this image is %v", spec.kind)}
	}
	mem := rf.mem
	var rsdp uint64
	if spec.kind != boot.KindROM {
		img, err := tables.Build(tables.Platform{CPUs: rf.cpus})
		if err != nil {
			return loaded{}, err
		}
		if err := ctx.WriteGPA(tables.Base, img.Data); err != nil {
			return loaded{}, fmt.Errorf("writing the ACPI and MP tables: %w", err)
		}
		rsdp = img.RSDP
	}
	switch spec.kind {
	case boot.KindELF64:
		_, err := boot.LoadELF64(ctx, image, ctx.Lowmem())
		return loaded{spec.kind}, err
	case boot.KindMultiboot:
		// QEMU's -kernel passes "IMAGE APPEND" (its load_multiboot
		// formats "%s %s", so the space is there even without -append),
		// and -initrd "FILE ARGS,FILE ARGS" as modules whose strings are
		// those "FILE ARGS".
		opt := boot.MultibootOptions{Cmdline: imageName + " " + rf.append}
		if rf.initrd != "" {
			for _, m := range strings.Split(rf.initrd, ",") {
				file, _, _ := strings.Cut(m, " ")
				if file == "" {
					return loaded{}, fmt.Errorf("--initrd module %q: no file name (want \"FILE ARGS,FILE ARGS\")", m)
				}
				b, err := readImage(file, mem)
				if err != nil {
					return loaded{}, fmt.Errorf("--initrd module: %w", err)
				}
				opt.Modules = append(opt.Modules, boot.Module{Data: b, Cmdline: m})
			}
		}
		_, err := boot.LoadMultiboot(ctx, image, mem, opt)
		return loaded{spec.kind}, err
	case boot.KindLinux:
		var initrd []byte
		if rf.initrd != "" {
			b, err := readImage(rf.initrd, mem)
			if err != nil {
				return loaded{}, fmt.Errorf("--initrd: %w", err)
			}
			initrd = b
		}
		_, err := boot.LoadLinux(ctx, image, mem, boot.LinuxOptions{Cmdline: rf.append, Initrd: initrd, RSDP: rsdp})
		return loaded{spec.kind}, err
	case boot.KindROM:
		// bhyve boots a ROM with the unrestricted-guest capability, so
		// real mode runs as it is (§14.2).
		ctx.SetCapability(0, abi.VM_CAP_UNRESTRICTED_GUEST, 1)
		_, err := boot.LoadROM(romTarget{ctx}, image)
		return loaded{spec.kind}, err
	case boot.KindRaw:
		_, err := boot.LoadRaw(ctx, image, spec.addr, mem, spec.mode)
		return loaded{spec.kind}, err
	}
	return loaded{}, fmt.Errorf("unknown boot format %v", spec.kind)
}

// fwCfgE820 is QEMU's "etc/e820" fw_cfg file: packed little-endian
// {u64 address, u64 length, u32 type} entries, what SeaBIOS reads to learn
// the memory map.
func fwCfgE820(mem uint64) []byte {
	var b []byte
	for _, e := range boot.MemoryMap(mem) {
		b = binary.LittleEndian.AppendUint64(b, e.Addr)
		b = binary.LittleEndian.AppendUint64(b, e.Size)
		b = binary.LittleEndian.AppendUint32(b, e.Type)
	}
	return b
}

// newFwCfg is the fw_cfg device for this VM.
func newFwCfg(rf *runFlags) *userdev.FwCfg {
	f := userdev.NewFwCfg(userdev.FwCfgConfig{CPUs: rf.cpus, RAMSize: rf.mem, Cmdline: rf.append})
	f.AddFile("etc/e820", fwCfgE820(rf.mem))
	return f
}

// usageError marks a flag that does not fit the image: bad usage (exit 2),
// not an image that failed to load.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
