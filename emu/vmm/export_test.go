package vmm

import "softvmm/devices/vclock"

// EmulateMMIO runs the in-kernel MMIO emulator (inkernel.go) on vCPU id
// against a test device, for the differential test in package vmm_test.
func EmulateMMIO(vm *VM, id int, insn []byte, read func(size int) uint64, write func(size int, v uint64)) error {
	return emulateMMIO(vm.cpuOf(id), insn, testDev{read, write}, 0)
}

type testDev struct {
	read  func(int) uint64
	write func(int, uint64)
}

func (d testDev) Read(_ uint32, size int) (uint64, error) { return d.read(size), nil }
func (d testDev) Write(_ uint32, size int, v uint64) error {
	d.write(size, v)
	return nil
}

// ErrNoEmul is what EmulateMMIO returns for an instruction outside
// FreeBSD 12's emulated set.
var ErrNoEmul = errNoEmul

func vclockSBT(v int64) vclock.SBT { return vclock.SBT(v) }
