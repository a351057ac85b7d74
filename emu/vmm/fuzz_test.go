package vmm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"softvmm/emu/abi"
	"softvmm/jail"
)

// FuzzIoctls drives the byte-level entry point with sequences of raw
// ioctls (DESIGN.md "Contracts": the same fuzzer can drive every command).
// Each step is: one byte choosing the command from abi.Ioctls (or, past
// the table, a raw unknown number), then the argument bytes. Invariants
// after every call: no panic; errors are FreeBSD errnos; a failed call
// leaves the user's argument bytes as they were (copy-out only on
// success); every vCPU is IDLE again. At the end the VM destroys cleanly
// and the module unloads.
func FuzzIoctls(f *testing.F) {
	seed := func(steps ...[]byte) []byte { return bytes.Join(steps, nil) }
	le32 := func(v ...uint32) []byte {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], x)
		}
		return b
	}
	idx := func(cmd uint32) byte {
		for i, in := range abi.Ioctls {
			if in.Cmd == cmd {
				return byte(i)
			}
		}
		panic("no such ioctl")
	}
	f.Add(seed([]byte{idx(abi.VM_ALLOC_MEMSEG)}, le32(0, 0, 1<<20, 0)))
	f.Add(seed([]byte{idx(abi.VM_ACTIVATE_CPU)}, le32(0), []byte{idx(abi.VM_RUN)}, le32(0)))
	f.Add(seed([]byte{idx(abi.VM_SET_REGISTER)}, le32(0, 20, 0x1000, 0), []byte{idx(abi.VM_GET_REGISTER)}, le32(0, 20)))
	f.Add(seed([]byte{idx(abi.VM_SUSPEND)}, le32(2), []byte{idx(abi.VM_REINIT)}))
	f.Add([]byte{0xff, 1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		// A sequence that has not finished in 10 s is a hang: crash so
		// the fuzzer records the input.
		hang := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("ioctl sequence hangs: %x", data)) })
		defer hang.Stop()
		h := jail.NewHost()
		k := NewKernel(h)
		k.Load()
		um := &SliceMem{Base: 0x10000, B: make([]byte, 4096)}
		td := &Thread{Cred: h.RootCred(), Mem: um}
		name := "f"
		if _, err := k.Sysctl(td, "hw.vmm.create", &name); err != nil {
			t.Fatal(err)
		}
		dev, _ := k.OpenVM(td, name)
		vm := dev.VM()
		// A guest the fuzzer sets running may spin or halt with
		// interrupts on; a watchdog freezes vCPU 0 now and then, which
		// forces VM_RUN out with REQIDLE as a freeze does.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
					for i := 0; i < abi.VM_MAXCPU; i++ {
						if vm.State(i) != abi.VCPU_IDLE {
							vm.vcpu[i].reqidle.Store(true)
							vm.mu.Lock()
							vm.cond.Broadcast()
							vm.mu.Unlock()
						}
					}
				}
			}
		}()
		for steps := 0; len(data) > 0 && steps < 32; steps++ {
			var cmd uint32
			if int(data[0]) < len(abi.Ioctls) {
				cmd = abi.Ioctls[data[0]].Cmd
			} else {
				cmd = abi.IOC(abi.IOC_INOUT, 'v', int(data[0]), 16)
			}
			data = data[1:]
			n := abi.IOCPARM_LEN(cmd)
			arg := make([]byte, n)
			m := copy(arg, data)
			data = data[m:]
			if cmd == abi.VM_MMAP_MEMSEG || cmd == abi.VM_ALLOC_MEMSEG {
				// Keep guest memory small: the fuzzer is not a memory test.
				binary.LittleEndian.PutUint64(arg[8:], binary.LittleEndian.Uint64(arg[8:])%(1<<22))
			}
			if cmd == abi.VM_MMAP_MEMSEG {
				binary.LittleEndian.PutUint64(arg[24:], binary.LittleEndian.Uint64(arg[24:])%(1<<22))
			}
			copy(um.B, arg)
			before := append([]byte(nil), um.B...)
			err := dev.IoctlRaw(td, cmd, 0x10000)
			var e abi.Errno
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("%s: error %v is not an errno", abi.IoctlName(cmd), err)
			}
			if err != nil && !bytes.Equal(before, um.B) {
				t.Fatalf("%s failed with %v but changed the user's bytes", abi.IoctlName(cmd), err)
			}
			for i := 0; i < abi.VM_MAXCPU; i++ {
				if s := vm.State(i); s != abi.VCPU_IDLE {
					t.Fatalf("after %s vCPU %d is in state %d", abi.IoctlName(cmd), i, s)
				}
			}
		}
		if _, err := k.Sysctl(td, "hw.vmm.destroy", &name); err != nil {
			t.Fatalf("destroy: %v", err)
		}
		if err := k.Unload(); err != nil {
			t.Fatalf("unload: %v", err)
		}
	})
}
