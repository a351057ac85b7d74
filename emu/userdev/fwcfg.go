package userdev

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// FwCfgBase is where QEMU puts fw_cfg's I/O ports on x86: the 16-bit
// selector at 0x510 and the 8-bit data register at 0x511 (QEMU
// docs/specs/fw_cfg.rst, "Register Locations"). The DMA register at 0x514 is
// not provided: FW_CFG_ID says so, and guests then use the data port.
const (
	FwCfgBase = 0x510
	FwCfgSize = 2
)

// fw_cfg selector keys (QEMU docs/specs/fw_cfg.rst; the numbering is the
// one Linux's include/uapi/linux/qemu_fw_cfg.h also carries).
const (
	FwCfgSignature     = 0x00
	FwCfgID            = 0x01
	FwCfgUUID          = 0x02
	FwCfgRAMSize       = 0x03
	FwCfgNoGraphic     = 0x04
	FwCfgNbCPUs        = 0x05
	FwCfgMachineID     = 0x06
	FwCfgKernelAddr    = 0x07
	FwCfgKernelSize    = 0x08
	FwCfgKernelCmdline = 0x09
	FwCfgInitrdAddr    = 0x0a
	FwCfgInitrdSize    = 0x0b
	FwCfgBootDevice    = 0x0c
	FwCfgNUMA          = 0x0d
	FwCfgBootMenu      = 0x0e
	FwCfgMaxCPUs       = 0x0f
	FwCfgCmdlineAddr   = 0x13
	FwCfgCmdlineSize   = 0x14
	FwCfgCmdlineData   = 0x15
	FwCfgFileDir       = 0x19
	FwCfgFileFirst     = 0x20

	fwCfgEntryMask = 0x3fff // bits 14 (write channel) and 15 (arch) aside
	fwCfgArchLocal = 0x8000
	fwCfgFileName  = 56 // bytes of a directory entry's name, NUL included
	fwCfgMaxFiles  = fwCfgEntryMask + 1 - FwCfgFileFirst
)

// FwCfg is QEMU's firmware configuration device as x86 guests see it
// through I/O ports: select an item by writing its 16-bit key to the
// selector, then read its bytes one at a time from the data port; reading
// past the end gives 0 (fw_cfg.rst, "Data Register"). Data writes are
// ignored, as in QEMU since v2.4.
//
// The combined window follows QEMU's x86 port layout: a 16-bit OUT at 0x510
// selects, a byte IN at 0x510 or 0x511 reads data, a byte OUT is a (dropped)
// data write. Other widths are not valid accesses there: they read all ones
// and write nothing.
//
// Items are kept in a map for lookup only; nothing iterates it, and the file
// directory is kept sorted by name as QEMU keeps it, so the guest-visible
// layout depends only on what was added.
type FwCfg struct {
	items map[uint16][]byte
	files []fwCfgFile // sorted by name; file i has key FwCfgFileFirst+i
	cur   []byte
	off   int
}

type fwCfgFile struct {
	name string
	data []byte
}

// FwCfgConfig is what a runner tells the guest through the well-known items.
type FwCfgConfig struct {
	CPUs    int    // FW_CFG_NB_CPUS and FW_CFG_MAX_CPUS (u16)
	RAMSize uint64 // FW_CFG_RAM_SIZE (u64), bytes of guest RAM
	Cmdline string // FW_CFG_CMDLINE_SIZE/DATA (NUL-terminated), when set
}

// NewFwCfg returns the device with the signature, the feature bitmap
// (traditional interface only), the CPU count, the RAM size, the command line
// and an empty file directory.
func NewFwCfg(c FwCfgConfig) *FwCfg {
	f := &FwCfg{items: map[uint16][]byte{}}
	f.items[FwCfgSignature] = []byte("QEMU")
	f.items[FwCfgID] = le32(1) // bit 0: traditional interface; bit 1 (DMA) clear
	f.items[FwCfgNbCPUs] = le16(uint16(c.CPUs))
	f.items[FwCfgMaxCPUs] = le16(uint16(c.CPUs))
	f.items[FwCfgRAMSize] = le64(c.RAMSize)
	f.items[FwCfgNoGraphic] = le16(1)
	if c.Cmdline != "" {
		f.items[FwCfgCmdlineSize] = le32(uint32(len(c.Cmdline) + 1))
		f.items[FwCfgCmdlineData] = append([]byte(c.Cmdline), 0)
	}
	f.rebuildDir()
	return f
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// SetItem sets a numbered item (a key below FwCfgFileFirst, or an
// architecture-local key with bit 15 set) to data.
func (f *FwCfg) SetItem(key uint16, data []byte) error {
	k := key &^ 0x4000
	if k&fwCfgArchLocal == 0 && k >= FwCfgFileFirst || k == FwCfgFileDir {
		return fmt.Errorf("userdev: fw_cfg key %#x belongs to the file directory; use AddFile", key)
	}
	f.items[k] = append([]byte(nil), data...)
	return nil
}

// AddFile adds (or replaces) a named file item. Names are at most 55 bytes
// (the directory entry holds 56 with the NUL).
func (f *FwCfg) AddFile(name string, data []byte) error {
	if name == "" || len(name) >= fwCfgFileName {
		return fmt.Errorf("userdev: fw_cfg file name %q must be 1 to %d bytes", name, fwCfgFileName-1)
	}
	i := sort.Search(len(f.files), func(i int) bool { return f.files[i].name >= name })
	if i < len(f.files) && f.files[i].name == name {
		f.files[i].data = append([]byte(nil), data...)
	} else {
		if len(f.files) >= fwCfgMaxFiles {
			return fmt.Errorf("userdev: fw_cfg file directory is full")
		}
		f.files = append(f.files, fwCfgFile{})
		copy(f.files[i+1:], f.files[i:])
		f.files[i] = fwCfgFile{name: name, data: append([]byte(nil), data...)}
	}
	f.rebuildDir()
	return nil
}

// rebuildDir renumbers the files in name order and rewrites FW_CFG_FILE_DIR
// (big-endian count, then per file: be32 size, be16 select, be16 reserved,
// name[56]).
func (f *FwCfg) rebuildDir() {
	be := binary.BigEndian
	dir := be.AppendUint32(nil, uint32(len(f.files)))
	for i, fl := range f.files {
		dir = be.AppendUint32(dir, uint32(len(fl.data)))
		dir = be.AppendUint16(dir, uint16(FwCfgFileFirst+i))
		dir = be.AppendUint16(dir, 0)
		var name [fwCfgFileName]byte
		copy(name[:], fl.name)
		dir = append(dir, name[:]...)
	}
	f.items[FwCfgFileDir] = dir
}

// lookup returns the item a key selects, nil if none.
func (f *FwCfg) lookup(key uint16) []byte {
	k := key &^ 0x4000 // the write channel bit selects the same item
	if k&fwCfgArchLocal == 0 && k >= FwCfgFileFirst {
		if i := int(k) - FwCfgFileFirst; i < len(f.files) {
			return f.files[i].data
		}
		return nil
	}
	return f.items[k]
}

// Select does what a selector write does: pick the item, rewind to offset 0.
func (f *FwCfg) Select(key uint16) {
	f.cur, f.off = f.lookup(key), 0
}

// In reads the next data byte for a byte access at either port.
func (f *FwCfg) In(off uint16, size int) uint32 {
	if size != 1 {
		return sizeMask(size)
	}
	if f.off >= len(f.cur) {
		return 0
	}
	b := f.cur[f.off]
	f.off++
	return uint32(b)
}

// Out selects on a 16-bit write at the selector; byte writes are data
// writes and are dropped (the offset does not move: QEMU ignores them).
func (f *FwCfg) Out(off uint16, size int, v uint32) {
	if size == 2 && off == 0 {
		f.Select(uint16(v))
	}
}
