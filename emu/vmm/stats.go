package vmm

import (
	"sync/atomic"
	"time"

	"softvmm/emu/abi"
)

// Per-vCPU statistics for VM_STATS / VM_STAT_DESC (reference/vmm-interface.md
// §10). FreeBSD's indices depend on link order and are not stable, so
// consumers such as bhyvectl look every description up with VM_STAT_DESC;
// softvmm's order is fixed and its descriptions follow FreeBSD's wording
// where the counter means the same thing.
const (
	statExitsTotal = iota
	statExitsInout
	statExitsHLT
	statExitsRDMSR
	statExitsWRMSR
	statExitsMTrap
	statExitsInstEmul
	statExitsReqidle
	statExitsUserspace
	statExitsDebug
	statExitsSuspended
	statExitsPause
	statInsnsRetired
	nStats
)

var statDesc = [nStats]string{
	statExitsTotal:     "total number of vm exits",
	statExitsInout:     "number of times in/out was intercepted",
	statExitsHLT:       "number of times hlt was intercepted",
	statExitsRDMSR:     "number of times rdmsr was intercepted",
	statExitsWRMSR:     "number of times wrmsr was intercepted",
	statExitsMTrap:     "number of monitor trap exits",
	statExitsInstEmul:  "number of times instruction emulation was needed",
	statExitsReqidle:   "number of times idle requested at exit",
	statExitsUserspace: "number of vm exits handled in userspace",
	statExitsDebug:     "number of vm exits for a debug-stopped vcpu",
	statExitsSuspended: "number of vm exits for a suspended vm",
	statExitsPause:     "number of times pause was intercepted",
	statInsnsRetired:   "number of guest instructions retired",
}

// stats is one vCPU's counters. The vCPU's own VM_RUN updates them and
// VM_STATS reads them without freezing it, so they are atomic.
type stats [nStats]atomic.Uint64

func (s *stats) inc(i int) { s[i].Add(1) }

// vmStats is VM_STATS: the counters of one vCPU and a timestamp. The
// timestamp is the host's time of day, as getmicrotime gives FreeBSD's;
// nothing guest-visible depends on it.
func (vm *VM) vmStats(a *abi.VMStats) error {
	if a.Cpuid < 0 || a.Cpuid >= abi.VM_MAXCPU {
		return abi.EINVAL
	}
	v := &vm.vcpu[a.Cpuid]
	a.NumEntries = nStats
	now := time.Now()
	a.Tv = abi.Timeval{Sec: now.Unix(), Usec: int64(now.Nanosecond() / 1000)}
	a.Statbuf = [abi.MAX_VM_STATS]uint64{}
	for i := range v.stats {
		a.Statbuf[i] = v.stats[i].Load()
	}
	return nil
}

// vmStatDesc is VM_STAT_DESC: EINVAL for an index past the last counter.
func vmStatDesc(a *abi.VMStatDesc) error {
	if a.Index < 0 || a.Index >= nStats {
		return abi.EINVAL
	}
	a.Desc = [len(a.Desc)]byte{}
	copy(a.Desc[:len(a.Desc)-1], statDesc[a.Index])
	return nil
}

// Stats returns vCPU id's counters by description, for `softvmm run
// --stats` and tests.
func (vm *VM) Stats(id int) (desc []string, val []uint64) {
	for i := 0; i < nStats; i++ {
		desc = append(desc, statDesc[i])
		val = append(val, vm.vcpu[id].stats[i].Load())
	}
	return desc, val
}
