package abi

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

func TestEncodeDecodeErrors(t *testing.T) {
	var reg VMRegister
	buf16 := make([]byte, 16)
	for _, c := range []struct {
		name string
		err  error
	}{
		{"short", Decode(make([]byte, 15), &reg)},
		{"long", Decode(make([]byte, 17), &reg)},
		{"nil src", Decode(nil, &reg)},
		{"non-pointer", Decode(buf16, reg)},
		{"nil interface", Decode(buf16, nil)},
		{"nil pointer", Decode(buf16, (*VMRegister)(nil))},
		{"map", Decode(buf16, &map[int]int{})},
		{"slice of unsized", Decode(buf16, &[]any{})},
		{"pointer to pointer", Decode(buf16, new(*VMRegister))},
		{"int", Decode(make([]byte, 8), new(int))},
		{"string", Decode(buf16, new(string))},
		{"encode short", Encode(make([]byte, 15), &reg)},
		{"encode long", Encode(make([]byte, 17), reg)},
		{"encode nil", Encode(buf16, nil)},
		{"encode nil pointer", Encode(buf16, (*VMRegister)(nil))},
		{"encode chan", Encode(buf16, make(chan int))},
		{"encode func", Encode(buf16, func() {})},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
		} else if _, isErrno := c.err.(Errno); isErrno {
			t.Errorf("%s: returned an Errno (%v), want a plain error", c.name, c.err)
		}
	}
	if reg != (VMRegister{}) {
		t.Errorf("failed Decode modified its target: %+v", reg)
	}
}

func TestEncodeDecodeValues(t *testing.T) {
	// vm_register {cpuid 2, regnum RIP, regval}: bytes written by hand.
	want := []byte{2, 0, 0, 0, 20, 0, 0, 0, 0xF0, 0xFF, 0, 0, 0, 0, 0, 0}
	got := make([]byte, 16)
	in := VMRegister{Cpuid: 2, Regnum: VM_REG_GUEST_RIP, Regval: 0xFFF0}
	if err := Encode(got, in); err != nil || !bytes.Equal(got, want) {
		t.Errorf("Encode(vm_register) = % x, %v", got, err)
	}
	var out VMRegister
	if err := Decode(want, &out); err != nil || out != in {
		t.Errorf("Decode(vm_register) = %+v, %v", out, err)
	}

	// Padding is written as zeros and ignored on input.
	ii := VMIntinfo{Vcpuid: 1, Info1: 0x80000B0E, Info2: 2}
	raw := make([]byte, 24)
	if err := Encode(raw, &ii); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw[4:8], []byte{0, 0, 0, 0}) {
		t.Errorf("padding not zero: % x", raw[4:8])
	}
	raw[5] = 0xAA
	var ii2 VMIntinfo
	if err := Decode(raw, &ii2); err != nil || ii2 != ii {
		t.Errorf("Decode with dirty padding = %+v, %v", ii2, err)
	}

	// The bare int argument of VM_RESTART_INSTRUCTION / VM_IOAPIC_PINCOUNT.
	var vcpu int32
	if err := Decode([]byte{0xFF, 0xFF, 0xFF, 0xFF}, &vcpu); err != nil || vcpu != -1 {
		t.Errorf("Decode(int) = %d, %v", vcpu, err)
	}

	// Strings.
	var ms VMMemseg
	SetCString(ms.Name[:], "bootrom")
	if ms.NameString() != "bootrom" {
		t.Errorf("NameString = %q", ms.NameString())
	}
	long := string(bytes.Repeat([]byte{'x'}, 100))
	SetCString(ms.Name[:], long)
	if ms.Name[63] != 0 || len(ms.NameString()) != 63 {
		t.Errorf("SetCString does not truncate: %d", len(ms.NameString()))
	}
	SetCString(ms.Name[:], "a")
	if ms.Name[1] != 0 || ms.Name[2] != 0 || ms.NameString() != "a" {
		t.Error("SetCString left stale bytes")
	}
	SetCString(nil, "x")
	var sd VMStatDesc
	copy(sd.Desc[:], bytes.Repeat([]byte{'y'}, 128)) // no NUL at all
	if len(sd.DescString()) != 128 {
		t.Error("DescString without NUL")
	}
}

func FuzzDecode(f *testing.F) {
	for i, info := range Ioctls {
		f.Add(uint8(i), make([]byte, info.Size))
		f.Add(uint8(i), bytes.Repeat([]byte{0xFF}, info.Size))
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(200), []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		info := Ioctls[int(which)%len(Ioctls)]
		v := NewArg(info.Cmd)
		if v == nil {
			if Decode(data, v) == nil {
				t.Fatal("Decode into nil succeeded")
			}
			return
		}
		err := Decode(data, v)
		if (err == nil) != (len(data) == info.Size) {
			t.Fatalf("%s: Decode(%d bytes) err=%v", info.Name, len(data), err)
		}
		if err != nil {
			return
		}
		// Re-encoding reproduces the input except in padding, which
		// encodes as zero; a second round trip is exact.
		out := make([]byte, len(data))
		if err := Encode(out, v); err != nil {
			t.Fatal(err)
		}
		v2 := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := Decode(out, v2); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(v, v2) {
			t.Fatalf("%s: round trip changed the value", info.Name)
		}
		for i := range data {
			if out[i] != data[i] && out[i] != 0 {
				t.Fatalf("%s: byte %d re-encoded as %#x from %#x", info.Name, i, out[i], data[i])
			}
		}
		// Exit accessors never panic on whatever bytes VM_RUN carries.
		if r, ok := v.(*VMRun); ok {
			e := &r.Exit
			_, _, _, _ = e.Inout(), e.InoutStr(), e.Paging(), e.InstEmul()
			_, _, _, _ = e.Vmx(), e.Svm(), e.Msr(), e.SpinupAP()
			_, _, _, _ = e.Hlt(), e.IoapicEOI(), e.Suspended(), e.TaskSwitch()
			_, _ = ExitcodeName(e.Exitcode), IoctlName(binary.LittleEndian.Uint32(data))
		}
	})
}
