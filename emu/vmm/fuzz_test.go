package vmm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"softvmm/emu/abi"
	"softvmm/jail"
	"softvmm/mem"
)

// FuzzIoctls drives the byte-level entry point with sequences of raw
// ioctls (DESIGN.md "Contracts": the same fuzzer can drive every command).
// Each step is: one byte choosing the command from abi.Ioctls (0xfe:
// destroy and re-create the VM; any other byte past the table: a raw
// unknown number), then the argument bytes. Invariants
// after every call: no panic; errors are FreeBSD errnos; a failed call
// leaves the user's argument bytes as they were (copy-out only on
// success); every vCPU is IDLE again. At the end the VM destroys cleanly,
// the module unloads, every byte of guest memory is given back
// (mem.LiveBytes) and no goroutine is left running (issue 6).
func FuzzIoctls(f *testing.F) {
	const recreate = 0xfe // a step byte that destroys and re-creates the VM
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
	f.Add(seed([]byte{idx(abi.VM_ALLOC_MEMSEG)}, le32(0, 0, 1<<20, 0), []byte{recreate, idx(abi.VM_GET_MEMSEG)}, le32(0)))
	f.Fuzz(func(t *testing.T, data []byte) {
		// A sequence that has not finished in 10 s is a hang: crash so
		// the fuzzer records the input.
		hang := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("ioctl sequence hangs: %x", data)) })
		defer hang.Stop()
		live, goroutines := mem.LiveBytes(), runtime.NumGoroutine()
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
		var vmp atomic.Pointer[VM] // the watchdog reads it as steps replace the VM
		vmp.Store(dev.VM())
		// A guest the fuzzer sets running may spin or halt with
		// interrupts on; a watchdog freezes vCPU 0 now and then, which
		// forces VM_RUN out with REQIDLE as a freeze does.
		stop, stopped := make(chan struct{}), make(chan struct{})
		defer func() {
			select {
			case <-stop:
			default:
				close(stop)
			}
			<-stopped
		}()
		go func() {
			defer close(stopped)
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
					vm := vmp.Load()
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
			if data[0] == recreate {
				// Destroy the VM under whatever state it is in and
				// create it again: the old node must be gone (ENXIO on
				// the stale handle) and the new one fresh.
				data = data[1:]
				if _, err := k.Sysctl(td, "hw.vmm.destroy", &name); err != nil {
					t.Fatalf("destroy: %v", err)
				}
				var ms abi.VMMemseg
				if err := dev.Ioctl(td, abi.VM_GET_MEMSEG, &ms); !errors.Is(err, abi.ENXIO) {
					t.Fatalf("ioctl on a destroyed VM: %v, want ENXIO", err)
				}
				if _, err := k.Sysctl(td, "hw.vmm.create", &name); err != nil {
					t.Fatalf("re-create: %v", err)
				}
				dev, _ = k.OpenVM(td, name)
				vmp.Store(dev.VM())
				continue
			}
			vm := vmp.Load()
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
		close(stop)
		<-stopped
		if got := mem.LiveBytes(); got != live {
			t.Fatalf("guest memory leaked: %d bytes held after destroy, %d before", got, live)
		}
		deadline := time.Now().Add(time.Second)
		for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if g := runtime.NumGoroutine(); g > goroutines {
			t.Fatalf("goroutine leak: %d after destroy, %d before", g, goroutines)
		}
	})
}
