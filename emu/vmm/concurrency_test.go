package vmm_test

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"softvmm/emu/abi"
	"softvmm/emu/vmmapi"
)

// copyVCPU gives vCPU dst vCPU 0's registers and segment descriptors, so
// every vCPU starts at the same place in the same long-mode state.
func copyVCPU(t *testing.T, ctx *vmmapi.VMCtx, dst int) {
	t.Helper()
	for reg := int32(0); reg < abi.VM_REG_LAST; reg++ {
		v, err := ctx.GetRegister(0, reg)
		if err != nil {
			continue // not a register this backend has
		}
		if err := ctx.SetRegister(dst, reg, v); err != nil {
			t.Fatalf("copy register %s to vCPU %d: %v", abi.RegName(reg), dst, err)
		}
	}
	for _, reg := range []int32{abi.VM_REG_GUEST_ES, abi.VM_REG_GUEST_CS, abi.VM_REG_GUEST_SS,
		abi.VM_REG_GUEST_DS, abi.VM_REG_GUEST_FS, abi.VM_REG_GUEST_GS, abi.VM_REG_GUEST_LDTR,
		abi.VM_REG_GUEST_TR, abi.VM_REG_GUEST_GDTR, abi.VM_REG_GUEST_IDTR} {
		d, err := ctx.GetDesc(0, reg)
		if err != nil {
			t.Fatal(err)
		}
		if err := ctx.SetDesc(dst, reg, d.Base, d.Limit, d.Access); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrentRunAndFreeze: four vCPUs spin in VM_RUN, each on its own
// goroutine, while another goroutine issues vCPU-locked, ALL-locked and
// unlocked ioctls against them, then destroys the VM under them
// (reference/vmm-interface.md §2.2, §5). Every freeze must force its
// target out with VM_EXITCODE_REQIDLE and then succeed; no ioctl may fail
// with anything but its documented errno; every VM_RUN ends with nil or
// ENXIO once the VM is gone; no goroutine is left behind. Run under -race
// by `make test`.
func TestConcurrentRunAndFreeze(t *testing.T) {
	before := runtime.NumGoroutine()
	const ncpu = 4
	ctx := bootVM(t, "exit33.elf")
	rip := patch(t, ctx, 0xeb, 0xfe) // jmp .
	for i := 1; i < ncpu; i++ {
		copyVCPU(t, ctx, i)
		if err := ctx.ActivateCPU(i); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var reqidle atomic.Int64
	runErr := make([]error, ncpu)
	for i := 0; i < ncpu; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for {
				var ex abi.VMExit
				if err := ctx.Run(i, &ex); err != nil {
					if !errors.Is(err, abi.ENXIO) {
						runErr[i] = err
					}
					return
				}
				switch ex.Exitcode {
				case abi.VM_EXITCODE_REQIDLE:
					reqidle.Add(1)
					if ex.Rip != rip {
						runErr[i] = errors.New("REQIDLE exit away from the spin loop")
						return
					}
				case abi.VM_EXITCODE_DEBUG, abi.VM_EXITCODE_SUSPENDED:
					runtime.Gosched()
				default:
					runErr[i] = errors.New("unexpected exit " + abi.ExitcodeName(ex.Exitcode))
					return
				}
			}
		}(i)
	}
	// A freeze waits for its target to finish a quantum
	// (emu/vmm/run.go), so each step costs up to a quantum per vCPU.
	n := 400
	if testing.Short() {
		n = 100
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dev, td := ctx.Dev(), ctx.Thread()
	for k := 0; k < n; k++ {
		cpu := rng.IntN(ncpu)
		var err error
		op := rng.IntN(7)
		switch op {
		case 0:
			_, err = ctx.GetRegister(cpu, abi.VM_REG_GUEST_RIP)
		case 1:
			err = ctx.SetRegister(cpu, abi.VM_REG_GUEST_RAX, uint64(k))
		case 2:
			c := abi.VMCapability{Cpuid: int32(cpu), Captype: abi.VM_CAP_HALT_EXIT}
			err = dev.Ioctl(td, abi.VM_GET_CAPABILITY, &c)
		case 3:
			st := abi.VMStats{Cpuid: int32(cpu)}
			err = dev.Ioctl(td, abi.VM_STATS, &st)
		case 4:
			// ALL lock: freezes every vCPU; a mapping over an existing
			// one is then refused with EFAULT (§6.2 step 7), so only the
			// lock changes anything.
			mm := abi.VMMemmap{Gpa: 0, Segid: 0, Len: 4096, Prot: abi.PROT_ALL}
			if err = dev.Ioctl(td, abi.VM_MMAP_MEMSEG, &mm); err == nil {
				t.Fatal("VM_MMAP_MEMSEG over a mapping succeeded")
			} else if errors.Is(err, abi.EFAULT) {
				err = nil
			}
		case 5:
			a := abi.VMActivateCPU{Vcpuid: int32(cpu)}
			if err = dev.Ioctl(td, abi.VM_SUSPEND_CPU, &a); err == nil {
				err = dev.Ioctl(td, abi.VM_RESUME_CPU, &a)
			}
		case 6:
			ms := abi.VMMemseg{Segid: 0}
			err = dev.Ioctl(td, abi.VM_GET_MEMSEG, &ms)
		}
		if err != nil {
			t.Fatalf("step %d (op %d) on vCPU %d: %v", k, op, cpu, err)
		}
	}
	// On a loaded machine (or under -race) the runners may have been
	// between VM_RUN calls at every freeze so far; keep freezing until
	// one is caught inside the guest, within a bound.
	for deadline := time.Now().Add(10 * time.Second); reqidle.Load() == 0 && time.Now().Before(deadline); {
		if _, err := ctx.GetRegister(0, abi.VM_REG_GUEST_RIP); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if err := ctx.Destroy(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range runErr {
		if err != nil {
			t.Errorf("vCPU %d: %v", i, err)
		}
	}
	if reqidle.Load() == 0 {
		t.Error("no freeze ever forced a running vCPU out with REQIDLE")
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines after destroy, %d before", g, before)
	}
}
