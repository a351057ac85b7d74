package abi

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestAgainstCCompiler is an oracle nobody here controls: the host C
// compiler lays out testdata/cabi.c (structs written from the field lists
// of reference §3/§3.1/§3.2) and the test compares every size, offset and
// bitfield position, and whole vm_exit images, with the Go side. It needs
// gcc (or $CC-less cc) on an amd64 host and is skipped otherwise.
func TestAgainstCCompiler(t *testing.T) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		if cc, err = exec.LookPath("cc"); err != nil {
			t.Skip("no C compiler")
		}
	}
	bin := filepath.Join(t.TempDir(), "cabi")
	if out, err := exec.Command(cc, "-O0", "-o", bin, "testdata/cabi.c").CombinedOutput(); err != nil {
		t.Skipf("cannot build the C oracle: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	cNums := map[string]uintptr{}
	cBytes := map[string][]byte{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			t.Fatalf("bad oracle line %q", sc.Text())
		}
		if f[0] == "bytes" {
			b, err := hex.DecodeString(f[2])
			if err != nil {
				t.Fatal(err)
			}
			cBytes[f[1]] = b
			continue
		}
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			t.Fatalf("bad oracle line %q", sc.Text())
		}
		key := f[0] + " " + f[1]
		cNums[key] = uintptr(n)
		order = append(order, key)
	}

	// Sizes and offsets: every C line must have a Go counterpart that agrees.
	goNums := map[string]uintptr{}
	for _, l := range layouts() {
		goNums[l.name+" sizeof"] = l.got
		for _, f := range l.fields {
			goNums[l.name+" "+f.name] = f.got
		}
	}
	for _, key := range order {
		g, ok := goNums[key]
		if !ok {
			t.Errorf("C reports %q = %d; no Go row", key, cNums[key])
			continue
		}
		if g != cNums[key] {
			t.Errorf("%s: Go %d, C %d", key, g, cNums[key])
		}
	}
	// And every Go row (bar the vie bitfield bytes, which C cannot
	// offsetof) was checked.
	for key := range goNums {
		if _, ok := cNums[key]; !ok && !strings.HasPrefix(key, "vie ") {
			t.Errorf("Go row %q not checked against C", key)
		}
	}
	if len(order) < 150 {
		t.Errorf("only %d size/offset lines from the C oracle", len(order))
	}

	// Bitfields of struct vie.
	for _, f := range vieBitfields() {
		var v Vie
		f.set(&v, 0xff)
		got := make([]byte, 64)
		if err := Encode(got, &v); err != nil {
			t.Fatal(err)
		}
		want, ok := cBytes["vie."+f.name]
		if !ok {
			t.Errorf("C oracle has no vie.%s image", f.name)
		} else if !bytes.Equal(got, want) {
			t.Errorf("vie.%s at max: Go % x, C % x", f.name, got[16:22], want[16:22])
		}
	}

	// Whole vm_exit images built with the union setters.
	for name, e := range oracleExits() {
		got := make([]byte, 136)
		if err := Encode(got, &e); err != nil {
			t.Fatal(err)
		}
		want, ok := cBytes[name]
		if !ok {
			t.Errorf("C oracle has no %s image", name)
		} else if !bytes.Equal(got, want) {
			t.Errorf("vm_exit with u.%s:\nGo %x\nC  %x", name, got, want)
		}
	}
}

// oracleExits builds the vm_exit images testdata/cabi.c dumps, with the
// same values, through the Go setters.
func oracleExits() map[string]VMExit {
	pg := VMGuestPaging{Cr3: 0x1122334455667788, Cpl: 3, CpuMode: 3, PagingMode: 3}
	m := map[string]VMExit{}
	set := func(name string, f func(e *VMExit)) {
		var e VMExit
		f(&e)
		m[name] = e
	}
	set("inout", func(e *VMExit) {
		e.SetInout(InoutExit{Bytes: 4, In: true, Rep: true, Port: 0x3f8, EAX: 0xAABBCCDD})
	})
	set("inout_str", func(e *VMExit) {
		e.SetInoutStr(InoutStrExit{
			Inout:  InoutExit{Bytes: 1, In: true, String: true, Rep: true, Port: 0x60},
			Paging: pg, Rflags: 0x202, Cr0: 0x80000011, Index: 0x1000, Count: 7,
			Addrsize: 8, SegName: 22, SegDesc: SegDesc{Base: 0x10000, Limit: 0xffff, Access: 0x93},
		})
	})
	set("paging", func(e *VMExit) { e.SetPaging(PagingExit{Gpa: 0xFEE00300, FaultType: 2}) })
	set("inst_emul", func(e *VMExit) {
		x := InstEmulExit{Gpa: 0xFED00010, Gla: 0xFFFF800000001000, CsBase: 0x10, CsD: 1, Paging: pg}
		v := &x.Vie
		v.Inst[0], v.Inst[1], v.Inst[2], v.Inst[14] = 0x89, 0x04, 0x8B, 0xCC
		v.NumValid, v.NumProcessed = 15, 3
		v.SetAddrsize(8)
		v.SetOpsize(4)
		v.SetRexW(true)
		v.SetRexB(true)
		v.SetOpsizeOverride(true)
		v.SetSegmentOverride(true)
		v.SetRm(4)
		v.SetSS(2)
		v.SetIndex(1)
		v.SetBase(3)
		v.DispBytes, v.ImmBytes, v.Scale = 4, 1, 4
		v.BaseRegister, v.IndexRegister, v.SegmentRegister = 1, 2, 25
		v.Displacement, v.Immediate = -8, 0x7f
		v.Decoded, v.OpByte, v.OpType, v.OpFlags = 1, 0x89, 1, 0x0102
		e.SetInstEmul(x)
	})
	set("vmx", func(e *VMExit) {
		e.SetVmx(VmxExit{Status: -1, ExitReason: 48, ExitQualification: 0x181, InstType: 2, InstError: 7})
	})
	set("svm", func(e *VMExit) { e.SetSvm(SvmExit{Exitcode: 0x7B, Exitinfo1: 0x3F80210, Exitinfo2: 0x1234}) })
	set("msr", func(e *VMExit) { e.SetMsr(MsrExit{Code: 0xC0000080, Wval: 0xD01}) })
	set("spinup_ap", func(e *VMExit) { e.SetSpinupAP(SpinupAPExit{Vcpu: 3, Rip: 0x9F000}) })
	set("hlt", func(e *VMExit) { e.SetHlt(HltExit{Rflags: 0x246, IntrStatus: 0x30}) })
	set("ioapic_eoi", func(e *VMExit) { e.SetIoapicEOI(0x41) })
	set("suspended", func(e *VMExit) { e.SetSuspended(4) })
	set("task_switch", func(e *VMExit) {
		e.SetTaskSwitch(TaskSwitchExit{Tsssel: 0x28, Ext: 1, Errcode: 0x1C, ErrcodeValid: 1, Reason: 3, Paging: pg})
	})
	return m
}
