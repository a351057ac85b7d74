package abi

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The vmmctl structs against the host C compiler, which lays out the
// declarations of reference/jail-and-security.md §3.3 (vmm_dev.h's
// field lists) and builds the ioctl numbers with the BSD _IOC encoding
// written out here.
func TestVMMCtlAgainstCCompiler(t *testing.T) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no C compiler")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "vmmctl.c")
	os.WriteFile(src, []byte(`#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
struct vmmctl_vm_create { char name[32 + 1]; uint32_t flags; int reserved[15]; };
struct vmmctl_vm_destroy { char name[32 + 1]; int reserved[16]; };
#define IOC_INOUT 0xc0000000u
#define IOWR(g, n, t) (IOC_INOUT | ((sizeof(t) & 0x1fff) << 16) | ((g) << 8) | (n))
int main(void) {
	printf("%zu %zu %zu %zu %zu %u %u\n",
	    sizeof(struct vmmctl_vm_create), offsetof(struct vmmctl_vm_create, flags),
	    offsetof(struct vmmctl_vm_create, reserved), sizeof(struct vmmctl_vm_destroy),
	    offsetof(struct vmmctl_vm_destroy, reserved),
	    IOWR('V', 0, struct vmmctl_vm_create), IOWR('V', 1, struct vmmctl_vm_destroy));
	return 0;
}
`), 0o644)
	bin := filepath.Join(dir, "vmmctl")
	if out, err := exec.Command(cc, "-o", bin, src).CombinedOutput(); err != nil {
		t.Skipf("cannot build the C oracle: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	// Go offsets, found by encoding marker values.
	c := VMMCtlVMCreate{Flags: 0xa1b2c3d4}
	c.Reserved[0] = 0x01020304
	cb := make([]byte, binary.Size(&c))
	Encode(cb, &c)
	d := VMMCtlVMDestroy{}
	d.Reserved[0] = 0x01020304
	db := make([]byte, binary.Size(&d))
	Encode(db, &d)
	at := func(b []byte, v uint32) int {
		var m [4]byte
		binary.LittleEndian.PutUint32(m[:], v)
		return strings.Index(string(b), string(m[:]))
	}
	got := strings.Join([]string{
		strconv.Itoa(len(cb)), strconv.Itoa(at(cb, 0xa1b2c3d4)), strconv.Itoa(at(cb, 0x01020304)), strconv.Itoa(len(db)), strconv.Itoa(at(db, 0x01020304)),
		strconv.FormatUint(uint64(VMMCTL_VM_CREATE), 10), strconv.FormatUint(uint64(VMMCTL_VM_DESTROY), 10)}, " ")
	if want := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("Go %s, C %s (sizeof create, offsetof flags, reserved; sizeof destroy, offsetof reserved; commands)", got, want)
	}
}
