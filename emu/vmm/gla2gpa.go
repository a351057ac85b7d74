package vmm

import (
	"softvmm/emu/abi"
)

// Page-table entry bits and #PF error-code bits (Intel SDM Vol 3 §4.7).
const (
	pgV  = 0x001
	pgRW = 0x002
	pgU  = 0x004
	pgA  = 0x020
	pgM  = 0x040
	pgPS = 0x080

	pgexP   = 0x01
	pgexW   = 0x02
	pgexU   = 0x04
	pgexRSV = 0x08
	pgexI   = 0x10

	vecGP = 13
	vecPF = 14
)

// gla2gpaResult is what _vm_gla2gpa reports: a guest-physical address, or
// a guest fault (and, for the faulting form, the exception to inject).
type gla2gpaResult struct {
	gpa   uint64
	fault bool
	// The exception the faulting form injects.
	vector  uint8
	errcode uint32
	cr2     uint64 // #PF only
}

// gla2gpa is FreeBSD 12's _vm_gla2gpa (reference/vmm-interface.md §9): the
// kernel's own software walk of the guest's page tables, with its rules and
// its omissions kept exactly: no CR0.WP, NX, SMEP/SMAP or reserved-bit
// checks (but a PS bit at the PML4 level faults with RSVD), 4 MiB pages
// honoured in 32-bit paging whatever CR4.PSE says, the PAE PDPT checked for
// P only. A non-canonical address in 64-bit mode is #GP(0). The faulting
// form (checkOnly false) sets accessed bits at every level and the dirty
// bit at the leaf with compare-and-swap, restarting the walk if an entry
// changed under it; the NOFAULT form writes nothing. A page-table page
// outside writable system memory is EFAULT.
func (vm *VM) gla2gpa(pg abi.VMGuestPaging, gla uint64, prot int32, checkOnly bool) (gla2gpaResult, error) {
	usermode := pg.Cpl == 3
	writable := prot&abi.PROT_WRITE != 0
	pfcode := func(pte uint64, rsvd bool) uint32 {
		var code uint32
		if pte&pgV != 0 {
			code |= pgexP
		}
		if writable {
			code |= pgexW
		}
		if usermode {
			code |= pgexU
		}
		if rsvd {
			code |= pgexRSV
		}
		if prot&abi.PROT_EXEC != 0 {
			code |= pgexI
		}
		return code
	}
	pf := func(pte uint64, rsvd bool) (gla2gpaResult, error) {
		return gla2gpaResult{fault: true, vector: vecPF, errcode: pfcode(pte, rsvd), cr2: gla}, nil
	}
	hold := func(gpa uint64) []byte {
		page, p := vm.mem.SysmemPage(gpa)
		if page == nil || p&(abi.PROT_READ|abi.PROT_WRITE) != abi.PROT_READ|abi.PROT_WRITE {
			return nil
		}
		return page
	}

restart:
	if pg.CpuMode == abi.CPU_MODE_64BIT {
		if top := int64(gla) >> 47; top != 0 && top != -1 {
			return gla2gpaResult{fault: true, vector: vecGP}, nil
		}
	}
	ptpphys := pg.Cr3
	switch pg.PagingMode {
	case abi.PAGING_MODE_FLAT:
		return gla2gpaResult{gpa: gla}, nil

	case abi.PAGING_MODE_32:
		var pte uint32
		var page []byte
		var off int
		shift := 0
		for level := 1; level >= 0; level-- {
			if page = hold(ptpphys &^ 0xfff); page == nil {
				return gla2gpaResult{}, abi.EFAULT
			}
			shift = 12 + level*10
			off = int((gla>>shift)&0x3ff) * 4
			pte = loadPTE32(page, off)
			if pte&pgV == 0 || usermode && pte&pgU == 0 || writable && pte&pgRW == 0 {
				return pf(uint64(pte), false)
			}
			if !checkOnly && pte&pgA == 0 && !casPTE32(page, off, pte, pte|pgA) {
				goto restart
			}
			if level > 0 && pte&pgPS != 0 {
				break
			}
			ptpphys = uint64(pte)
		}
		if !checkOnly && writable && pte&pgM == 0 && !casPTE32(page, off, pte, pte|pgM) {
			goto restart
		}
		return gla2gpaResult{gpa: uint64(pte>>shift<<shift) | gla&(1<<shift-1)}, nil

	}
	// PAE, and any other value too: FreeBSD 12 walks four levels for
	// every mode it does not name.

	levels := 4
	if pg.PagingMode == abi.PAGING_MODE_PAE {
		base := ptpphys & 0xffffffe0
		page := hold(base &^ 0xfff)
		if page == nil {
			return gla2gpaResult{}, abi.EFAULT
		}
		pte := loadPTE64(page, int(base&0xfff)+int((gla>>30)&3)*8)
		if pte&pgV == 0 {
			return pf(pte, false)
		}
		ptpphys = pte
		levels = 2
	}
	var pte uint64
	var page []byte
	var off int
	shift := 0
	for level := levels - 1; level >= 0; level-- {
		ptpphys = ptpphys >> 12 << 24 >> 12 // bits 12..51
		if page = hold(ptpphys); page == nil {
			return gla2gpaResult{}, abi.EFAULT
		}
		shift = 12 + level*9
		off = int((gla>>shift)&0x1ff) * 8
		pte = loadPTE64(page, off)
		if pte&pgV == 0 || usermode && pte&pgU == 0 || writable && pte&pgRW == 0 {
			return pf(pte, false)
		}
		if !checkOnly && pte&pgA == 0 && !casPTE64(page, off, pte, pte|pgA) {
			goto restart
		}
		if level > 0 && pte&pgPS != 0 {
			if shift > 30 {
				return pf(pte, true) // a PS bit in a PML4 entry
			}
			break
		}
		ptpphys = pte
	}
	if !checkOnly && writable && pte&pgM == 0 && !casPTE64(page, off, pte, pte|pgM) {
		goto restart
	}
	return gla2gpaResult{gpa: pte>>shift<<(shift+12)>>12 | gla&(1<<shift-1)}, nil
}

// injectFault is vm_inject_pf / vm_inject_gp as the faulting VM_GLA2GPA
// uses them (reference/vmm-interface.md §9, §8.1): CR2 gets the address
// for a #PF, then the exception is queued with fault semantics
// (restart_instruction), so the guest re-executes the instruction after
// its handler. FreeBSD asserts that no exception was pending; here an
// already pending one is kept and the new fault dropped, since VM_RUN
// would deliver the first anyway and a second cannot be queued.
func (vm *VM) injectFault(vcpu int, r gla2gpaResult) {
	if r.vector == vecPF {
		vm.cpuOf(vcpu).SetReg(abi.VM_REG_GUEST_CR2, r.cr2)
	}
	vm.injectException(&abi.VMException{Cpuid: int32(vcpu), Vector: int32(r.vector),
		ErrorCode: r.errcode, ErrorCodeValid: 1, RestartInstruction: 1})
}
