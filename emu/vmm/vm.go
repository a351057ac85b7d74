package vmm

import (
	"sync"
	"sync/atomic"

	"softvmm/emu/abi"
	"softvmm/emu/cpu"
	"softvmm/jail"
	"softvmm/mem"
)

// VM is a virtual machine: vmm_dev.c's softc and vmm.c's struct vm in one.
type VM struct {
	k       *Kernel
	name    string
	creator *jail.Ucred // sc->ucred: who made it, for cr_cansee (kernel.go Era)
	mem     *mem.Space

	// Guarded by Kernel.mu.
	cdev    *Cdev
	devmem  []*DevmemCdev
	dying   bool
	counted bool // counts against its creator's hw.vmm.maxvmms
	ctl     *Ctl // the vmmctl descriptor it dies with (DESTROY_ON_CLOSE), or nil

	mu        sync.Mutex // guards the fields below and every vcpu.state
	cond      *sync.Cond // broadcast on any vCPU state or cpu-set change
	vcpu      [abi.VM_MAXCPU]vcpu
	active    uint32 // active_cpus, bit per vCPU
	suspended uint32 // suspended_cpus
	debug     uint32 // debug_cpus: stopped by VM_SUSPEND_CPU
	halted    uint32 // halted_cpus: HLT with IF=0
	topology  abi.VMCPUTopology
	coop      bool // cooperative mode: one thread runs every vCPU (coop.go)

	suspend atomic.Int32 // vm->suspend: 0 or a VM_SUSPEND_* reason

	plat platform // in-kernel devices and the VM clock (platform.go)
}

// vcpu is struct vcpu: the freeze state, the capabilities userspace set,
// and the interpreter, created on first use.
type vcpu struct {
	state int32 // VCPU_IDLE .. VCPU_SLEEPING; guarded by VM.mu
	// ticket and serving (guarded by VM.mu) queue the threads waiting
	// to freeze this vCPU in arrival order. FreeBSD leaves the order to
	// the scheduler; without a queue a thread that re-enters VM_RUN
	// the moment it gets REQIDLE can win every race for the vCPU and
	// starve a waiting ioctl forever (TestConcurrentRunAndFreeze).
	ticket, serving uint64
	reqidle         atomic.Bool // someone waits for this vCPU to become IDLE
	caps            uint32      // bit per VM_CAP_* that was set
	cpu             *cpu.CPU
	lastErr         error // the emulator failure behind the last VM_RUN EFAULT

	// nextrip is where the next VM_RUN enters the guest. After an exit
	// the guest's RIP register still names the exiting instruction, as
	// the VMCS's does, and nextrip = rip + inst_length (reference §7.1);
	// VM_SET_REGISTER of RIP sets both, VM_RESTART_INSTRUCTION sets
	// nextrip back to RIP.
	nextrip uint64

	insnLimit uint64 // SetInsnLimit: stop at this many retired instructions (0: none)

	// parked: in cooperative mode, the vCPU left VM_RUN from an HLT wait
	// it must resume (coop.go); parkedIF is RFLAGS.IF at that HLT.
	// Guarded by VM.mu.
	parked, parkedIF bool

	stats stats
}

// newVM makes the VM with a held copy of its creator's credential
// (crhold): the creator's prison, even once removed and dying, stays in
// the tree until the VM is destroyed, so the host and the ancestors keep
// seeing the VM.
func newVM(k *Kernel, name string, cred *jail.Ucred) *VM {
	cr := &jail.Ucred{UID: cred.UID, GID: cred.GID, Groups: cred.Groups, Prison: cred.Prison}
	cr.Prison.Hold()
	vm := &VM{k: k, name: name, creator: cr, mem: mem.NewSpace()}
	vm.cond = sync.NewCond(&vm.mu)
	vm.topology = abi.VMCPUTopology{Sockets: 1, Cores: 1, Threads: 1}
	return vm
}

// Name is the VM's name as given to hw.vmm.create.
func (vm *VM) Name() string { return vm.name }

// cpuOf returns vCPU id's interpreter, creating it on first use. The
// caller holds the vCPU frozen.
func (vm *VM) cpuOf(id int) *cpu.CPU {
	v := &vm.vcpu[id]
	if v.cpu == nil {
		v.cpu = cpu.New(vm.mem, id)
		v.nextrip, _ = v.cpu.Reg(abi.VM_REG_GUEST_RIP)
	}
	return v.cpu
}

// freeze is vcpu_set_state(id, FROZEN, from_idle=true) (reference §2.2,
// §5): wait until the vCPU is IDLE, asking a running one to leave VM_RUN
// with VM_EXITCODE_REQIDLE and waking a sleeping one, then take it. It
// blocks; it never fails.
func (vm *VM) freeze(id int) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	v := &vm.vcpu[id]
	my := v.ticket
	v.ticket++
	for v.state != abi.VCPU_IDLE || v.serving != my {
		if v.state != abi.VCPU_IDLE {
			v.reqidle.Store(true)
			vm.kick(id)
			vm.cond.Broadcast()
		}
		vm.cond.Wait()
	}
	v.serving++
	v.state = abi.VCPU_FROZEN
}

// kick pulls vCPU id out of the guest at its next block boundary, as the
// IPI of vcpu_notify_event does, so VM_RUN sees reqidle or the suspend
// flag within one REP chunk instead of at the end of its quantum.
// Nothing guest-visible depends on when it lands (run.go quantum).
func (vm *VM) kick(id int) {
	if vm.plat.started.Load() {
		vm.plat.vc[id].line.Kick()
	}
}

// unfreeze is FROZEN → IDLE. Any other state here is a kernel bug, and
// FreeBSD panics on it; so do we.
func (vm *VM) unfreeze(id int) {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	v := &vm.vcpu[id]
	if v.state != abi.VCPU_FROZEN {
		panic("vmm: unfreeze of a vCPU that is not frozen")
	}
	v.state = abi.VCPU_IDLE
	vm.cond.Broadcast()
}

// freezeAll takes every vCPU in id order, the ALL lock of §2.1.
func (vm *VM) freezeAll() {
	for i := 0; i < abi.VM_MAXCPU; i++ {
		vm.freeze(i)
	}
}

func (vm *VM) unfreezeAll() {
	for i := abi.VM_MAXCPU - 1; i >= 0; i-- {
		vm.unfreeze(i)
	}
}

// setState moves a vCPU the caller holds between FROZEN and RUNNING or
// SLEEPING (from_idle=false transitions of §5). VM.mu must be held.
func (vm *VM) setStateLocked(id int, to int32) {
	v := &vm.vcpu[id]
	ok := false
	switch v.state {
	case abi.VCPU_FROZEN:
		ok = to == abi.VCPU_RUNNING || to == abi.VCPU_SLEEPING || to == abi.VCPU_IDLE
	case abi.VCPU_RUNNING, abi.VCPU_SLEEPING:
		ok = to == abi.VCPU_FROZEN
	}
	if !ok {
		panic("vmm: illegal vCPU state transition")
	}
	v.state = to
	vm.cond.Broadcast()
}

// State returns vCPU id's freeze state (VCPU_IDLE ...), for tests and
// debuggers.
func (vm *VM) State(id int) int32 {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.vcpu[id].state
}

// suspendVM is vm_suspend (reference §7.5): the first reason wins, later
// calls get EALREADY; every vCPU is kicked so its VM_RUN reaches the
// suspend barrier.
func (vm *VM) suspendVM(how int32) error {
	if how <= abi.VM_SUSPEND_NONE || how >= abi.VM_SUSPEND_LAST {
		return abi.EINVAL
	}
	if !vm.suspend.CompareAndSwap(0, how) {
		return abi.EALREADY
	}
	for id := range vm.plat.vc {
		vm.kick(id)
	}
	vm.mu.Lock()
	vm.cond.Broadcast()
	vm.mu.Unlock()
	return nil
}
