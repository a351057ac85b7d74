package boot

import (
	"encoding/binary"
	"fmt"
)

// Kind is an image format the runner can boot.
type Kind int

const (
	KindUnknown   Kind = iota
	KindELF64          // bhyveload-style long-mode entry
	KindMultiboot      // multiboot v1 header in the first 8 KiB
	KindLinux          // bzImage, 64-bit boot protocol
	KindROM            // BIOS ROM at the reset vector
	KindRaw            // raw binary at an address
)

var kindNames = [...]string{"unknown", "elf64", "multiboot", "linux", "rom", "raw"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind is the inverse of String, for the runner's --boot flag.
func ParseKind(s string) (Kind, error) {
	for i, n := range kindNames {
		if i != 0 && n == s {
			return Kind(i), nil
		}
	}
	return KindUnknown, fmt.Errorf("unknown boot format %q (elf64, multiboot, linux, rom or raw)", s)
}

// Detect picks the format the way DESIGN.md's runner does: a bzImage by its
// boot-protocol signatures; a multiboot header in the first 8 KiB (checked
// before ELF, so an ELF64 kernel with a multiboot header boots as
// multiboot, as under GRUB or QEMU -kernel); an ELF64 executable; and
// nothing else: a ROM or a raw binary has no signature and must be named
// with --boot.
func Detect(image []byte) Kind {
	if IsBzImage(image) {
		return KindLinux
	}
	if _, ok := FindMultiboot(image); ok {
		return KindMultiboot
	}
	if len(image) >= 20 && string(image[:4]) == "\x7fELF" && image[4] == 2 &&
		binary.LittleEndian.Uint16(image[18:]) == 62 {
		return KindELF64
	}
	return KindUnknown
}
