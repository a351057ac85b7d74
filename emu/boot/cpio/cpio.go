// Package cpio writes cpio archives in the "newc" (SVR4, no CRC) format,
// the one the Linux kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst): each entry
// is the magic "070701", thirteen 8-digit hexadecimal fields (ino, mode,
// uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
// rdevminor, namesize, check), the NUL-terminated name padded to a multiple
// of 4 bytes, then the data padded the same way; "TRAILER!!!" ends the
// archive.
//
// Every field that could vary between runs (inode numbers, times, owners)
// is fixed, so the same entries give the same bytes: an initramfs built
// twice is identical.
package cpio

import (
	"errors"
	"fmt"
	"io"
	"strings"
)

// Mode bits (the file type in the high bits of c_mode, as in stat(2)).
const (
	TypeReg  = 0o100000
	TypeDir  = 0o040000
	TypeLink = 0o120000
	TypeChar = 0o020000
)

// Writer writes one archive.
type Writer struct {
	w      io.Writer
	ino    uint32
	err    error
	closed bool
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, ino: 1} }

var errClosed = errors.New("cpio: write after Close")

func (w *Writer) entry(name string, mode uint32, rdevMajor, rdevMinor uint32, data []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errClosed
	}
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "\x00") {
		return fmt.Errorf("cpio: bad entry name %q (relative, non-empty, no NUL)", name)
	}
	nlink := uint32(1)
	if mode&0o170000 == TypeDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		w.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	w.ino++
	var buf []byte
	buf = append(buf, hdr...)
	buf = append(buf, name...)
	buf = append(buf, 0)
	buf = pad4(buf)
	buf = append(buf, data...)
	buf = pad4(buf)
	_, w.err = w.w.Write(buf)
	return w.err
}

func pad4(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// Dir adds a directory with permission bits perm.
func (w *Writer) Dir(name string, perm uint32) error {
	return w.entry(name, TypeDir|perm&0o7777, 0, 0, nil)
}

// File adds a regular file.
func (w *Writer) File(name string, perm uint32, data []byte) error {
	return w.entry(name, TypeReg|perm&0o7777, 0, 0, data)
}

// Symlink adds a symbolic link to target.
func (w *Writer) Symlink(name, target string) error {
	return w.entry(name, TypeLink|0o777, 0, 0, []byte(target))
}

// CharDev adds a character device node.
func (w *Writer) CharDev(name string, perm, major, minor uint32) error {
	return w.entry(name, TypeChar|perm&0o7777, major, minor, nil)
}

// Close writes the trailer. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	err := w.entry("TRAILER!!!", 0, 0, 0, nil)
	w.closed = true
	return err
}
