package lapic

import "softvmm/emu/abi"

// Calcdest is vlapic_calcdest (reference/vmm-devices.md §2.9): the vCPUs,
// in ascending order, that the destination (dest, phys, lowprio) selects.
// views[i] describes vCPU i. x2apicDest says whether dest is a 32-bit
// x2APIC destination (an ICR written in x2APIC mode) or an 8-bit xAPIC one
// (everything from the IOAPIC and MSI).
//
//   - Broadcast (0xFF, or 0xFFFFFFFF in x2APIC format): every active vCPU,
//     in both modes, even for lowest priority.
//   - Physical: the vCPU whose id is dest, if it is active (the L fix of
//     §12 #9; B also selected inactive vCPUs).
//   - Logical: each active vCPU matched with its own DFR/LDR: flat model
//     (DFR[31:28] = 0xF) if dest[7:0] & LDR[31:24] ≠ 0; cluster model
//     (0x0) if the clusters are equal and the member bits meet — xAPIC
//     cluster LDR[31:28], members LDR[27:24]; x2APIC LAPIC cluster
//     LDR[31:16], members LDR[15:0]; the MDA splits as dest[7:4]/dest[3:0],
//     or dest[31:16]/dest[15:0] in x2APIC format. Other models match
//     nothing. Lowest priority stops at the first match (no arbitration).
func Calcdest(views []DestView, dest uint32, phys, lowprio, x2apicDest bool) []int {
	var out []int
	if x2apicDest && dest == 0xFFFFFFFF || !x2apicDest && dest == 0xFF {
		return allActive(views, -1)
	}
	if phys {
		if uint64(dest) < uint64(len(views)) && views[dest].Active {
			out = append(out, int(dest))
		}
		return out
	}
	flat := dest & 0xFF
	var mdaCluster, mdaMembers uint32
	if x2apicDest {
		mdaCluster, mdaMembers = dest>>16, dest&0xFFFF
	} else {
		mdaCluster, mdaMembers = (dest>>4)&0xF, dest&0xF
	}
	for i, v := range views {
		if !v.Active {
			continue
		}
		var ldest, mda uint32
		switch v.DFR & DFRModelMask {
		case DFRModelFlat:
			ldest, mda = v.LDR>>24, flat
		case DFRModelCluster:
			var cluster uint32
			if v.X2APIC {
				cluster, ldest = v.LDR>>16, v.LDR&0xFFFF
			} else {
				cluster, ldest = v.LDR>>28, (v.LDR>>24)&0xF
			}
			if cluster != mdaCluster {
				continue
			}
			mda = mdaMembers
		default:
			continue // a bad logical model: skip this vCPU
		}
		if mda&ldest != 0 {
			out = append(out, i)
			if lowprio {
				break
			}
		}
	}
	return out
}

func allActive(views []DestView, except int) []int {
	var out []int
	for i, v := range views {
		if v.Active && i != except {
			out = append(out, i)
		}
	}
	return out
}

// Targets resolves an IPI's destination (§2.11): the destination field
// through Calcdest (never lowest-priority), or a shorthand — self, all
// active vCPUs, or all active vCPUs but the sender.
func Targets(views []DestView, ipi IPI) []int {
	switch ipi.Shorthand {
	case ShorthandSelf:
		return []int{ipi.Sender}
	case ShorthandAllIncluding:
		return allActive(views, -1)
	case ShorthandAllExcluding:
		return allActive(views, ipi.Sender)
	}
	return Calcdest(views, ipi.Dest, ipi.Phys, false, ipi.X2APIC)
}

// DecodeMSI takes an MSI address/data pair apart as lapic_intr_msi does
// (§2.13): the address must be 0xFEExxxxx; destination = addr[19:12];
// delivery mode = data[10:8]; vector = data[7:0]; always edge.
//
// One deliberate difference (package doc, "MSI destination mode"): the
// destination is logical whenever the destination-mode bit (2) is set, as
// Intel's chipsets, QEMU (apic_send_msi) and KVM read it; the redirection
// hint (bit 3) only enables lowest-priority redirection (SDM vol. 3A,
// "Message Address Register Format"). FreeBSD's vmm wants both bits for
// logical. Linux in flat logical mode composes every MSI with RH = 0,
// DM = 1 and a CPU bitmask as destination (0xFEE01004 for CPU 0), so under
// FreeBSD's rule the HPET's per-CPU FSB timer, which Linux makes its tick
// when the CPU lacks ARAT, went to physical APIC ID 1 and the boot stopped
// ticking.
// msiAddrDM is the MSI address's destination-mode bit (1: logical).
const msiAddrDM = 0x4

func DecodeMSI(addr, data uint64) (dest uint32, phys bool, delmode uint32, vector uint8, ok bool) {
	if addr&0xFFF00000 != DefaultBase {
		return 0, false, 0, 0, false
	}
	dest = uint32(addr>>12) & 0xFF
	phys = addr&msiAddrDM == 0
	return dest, phys, uint32(data) & LVTDelMode, uint8(data), true
}

// LevelRoute is a level-triggered interrupt source (an IOAPIC pin) as the
// TMR rebuild needs it: the RTE's destination, mode, delivery mode and
// vector.
type LevelRoute struct {
	Dest    uint32 // xAPIC format (RTE bits 63:56)
	Phys    bool
	DelMode uint32
	Vector  uint8
}

// ComputeTMR is vioapic_update_tmr for vCPU vcpu: all vectors edge, then
// the vector of every level route with fixed or lowest-priority delivery
// whose destination selects vcpu (lowest priority: the first match only)
// is level.
func ComputeTMR(views []DestView, vcpu int, routes []LevelRoute) [8]uint32 {
	var tmr [8]uint32
	for _, r := range routes {
		if r.DelMode != DelModeFixed && r.DelMode != DelModeLowPrio {
			continue
		}
		for _, t := range Calcdest(views, r.Dest, r.Phys, r.DelMode == DelModeLowPrio, false) {
			if t == vcpu {
				tmr[r.Vector/32] |= 1 << (r.Vector % 32)
			}
		}
	}
	return tmr
}

// Group is all the LAPICs of one VM, for the deliveries that span them:
// what bhyve does with the whole VM in view. LAPICs[i] is vCPU i's (nil if
// it does not exist); Active reports vm_active_cpus membership (nil: every
// existing LAPIC is active). A Group holds no lock of its own; each call
// takes the LAPICs' locks one at a time.
type Group struct {
	LAPICs []*LAPIC
	Active func(vcpu int) bool
}

// Views returns the destination views of all vCPUs.
func (g *Group) Views() []DestView {
	views := make([]DestView, len(g.LAPICs))
	for i, l := range g.LAPICs {
		if l == nil {
			continue
		}
		views[i] = l.DestView()
		views[i].Active = g.Active == nil || g.Active(i)
	}
	return views
}

func (g *Group) lapic(i int) *LAPIC {
	if i < 0 || i >= len(g.LAPICs) {
		return nil
	}
	return g.LAPICs[i]
}

// DeliverIntr is vlapic_deliver_intr (§2.10), the door for the IOAPIC,
// MSI and HPET FSB: only fixed, lowest-priority and ExtINT are honoured
// (NMI, SMI, INIT, STARTUP and reserved modes are dropped); dest is xAPIC
// format. ExtINT goes to each target's vCPU; otherwise the vector is set
// in each target's IRR (vectors below 16 are refused there, silently).
func (g *Group) DeliverIntr(dest uint32, phys bool, delmode uint32, vector uint8, level bool) {
	if delmode != DelModeFixed && delmode != DelModeLowPrio && delmode != DelModeExtINT {
		return
	}
	for _, t := range Calcdest(g.Views(), dest, phys, delmode == DelModeLowPrio, false) {
		l := g.lapic(t)
		if l == nil {
			continue
		}
		if delmode == DelModeExtINT {
			l.InjectExtINT()
		} else {
			_ = l.SetIRR(vector, level)
		}
	}
}

// MSI is lapic_intr_msi (VM_LAPIC_MSI, HPET FSB). An address outside
// 0xFEExxxxx returns EINVAL: FreeBSD returns −1 (ERESTART inside the
// kernel), which reference/vmm-interface.md §16 recommends replacing.
func (g *Group) MSI(addr, data uint64) error {
	dest, phys, delmode, vector, ok := DecodeMSI(addr, data)
	if !ok {
		return abi.EINVAL
	}
	g.DeliverIntr(dest, phys, delmode, vector, false)
	return nil
}

// SendIPI carries out an IPI a LAPIC's hook reported (B, §2.11): fixed
// sets the vector in each target's IRR (edge), NMI injects an NMI into
// each target's vCPU, INIT moves vCPU Dest to wait-for-SIPI, STARTUP
// starts vCPU Dest if it waits for SIPI. For a STARTUP that started a
// vCPU it returns (that vCPU, true): the sender's VM_RUN must then return
// VM_EXITCODE_SPINUP_AP with spinup_ap.vcpu = vcpu and spinup_ap.rip =
// ipi.StartupRIP().
func (g *Group) SendIPI(ipi IPI) (spinup int, ok bool) {
	switch ipi.Mode {
	case DelModeFixed:
		for _, t := range Targets(g.Views(), ipi) {
			if l := g.lapic(t); l != nil {
				_ = l.SetIRR(ipi.Vector, false)
			}
		}
	case DelModeNMI:
		for _, t := range Targets(g.Views(), ipi) {
			if l := g.lapic(t); l != nil {
				l.InjectNMI()
			}
		}
	case DelModeINIT:
		if l := g.lapic(int(ipi.Dest)); l != nil && ipi.Dest < MaxCPU {
			l.BootINIT()
		}
	case DelModeStartup:
		if l := g.lapic(int(ipi.Dest)); l != nil && ipi.Dest < MaxCPU && l.BootStartup() {
			return int(ipi.Dest), true
		}
	}
	return 0, false
}

// UpdateTMR rebuilds the TMR of every active vCPU from the IOAPIC's level
// routes (vioapic_update_tmr run on each active vCPU by rendezvous, §3.3
// and §12 #19). Inactive vCPUs keep theirs.
func (g *Group) UpdateTMR(routes []LevelRoute) {
	views := g.Views()
	for i, l := range g.LAPICs {
		if l != nil && views[i].Active {
			l.SetTMR(ComputeTMR(views, i, routes))
		}
	}
}

// LocalIRQ is VM_LAPIC_LOCAL_IRQ: fire LVT idx on vCPU vcpu, or with vcpu
// −1 on every active vCPU in ascending order, stopping at the first error
// (lapic_set_local_intr).
func (g *Group) LocalIRQ(vcpu, idx int) error {
	if vcpu != -1 {
		l := g.lapic(vcpu)
		if l == nil {
			return abi.EINVAL
		}
		return l.FireLVT(idx)
	}
	for i, l := range g.LAPICs {
		if l == nil || g.Active != nil && !g.Active(i) {
			continue
		}
		if err := l.FireLVT(idx); err != nil {
			return err
		}
	}
	return nil
}
