package cpu

import "encoding/binary"

// The CPUID table is fixed and advertises only what this interpreter
// implements, shaped the way vmm presents CPUID (reference/vmm-interface.md
// §12: APIC id in leaf 1 EBX[31:24], HYPERVISOR bit, leaf 0x40000000
// "bhyve bhyve "):
//
//	leaf 0           EAX 0xD (max basic leaf), vendor "SoftvmmGoCPU"
//	leaf 1           EAX 0x000006F1 (family 6, model 15, stepping 1)
//	                 EBX APIC id << 24 | 1 << 16 (one logical processor)
//	                     | 8 << 8 (CLFLUSH line size: 8 quadwords)
//	                 ECX SSE3 (0), PCLMULQDQ (1), SSSE3 (9), CX16 (13),
//	                     SSE4.1 (19), SSE4.2 (20), MOVBE (22), POPCNT (23),
//	                     AES (25), XSAVE (26), RDRAND (30), HYPERVISOR (31);
//	                     OSXSAVE (27) when CR4.OSXSAVE is set; x2APIC (21)
//	                     when the attached LAPIC is in x2APIC mode
//	                 EDX FPU (0), PSE (3), TSC (4), MSR (5), PAE (6), CX8 (8),
//	                     SEP (11), PGE (13), CMOV (15), CLFSH (19), MMX (23),
//	                     FXSR (24), SSE (25), SSE2 (26); APIC (9) when a LAPIC
//	                     is attached
//	leaves 2-0xC     zeros
//	leaf 0xD ECX=0   EAX 3 (XCR0 may enable x87 and SSE), EDX 0, EBX 576
//	                 (area for what XCR0 enables), ECX 576 (for all of it)
//	leaf 0xD ECX=1   EAX 1 (XSAVEOPT; no XSAVEC, XGETBV ECX=1, XSAVES)
//	leaf 0xD ECX>1   zeros (no component beyond SSE; xsave.go)
//	0x40000000       EAX 0x40000000, EBX:ECX:EDX "bhyve bhyve "
//	0x80000000       EAX 0x80000004 (max extended leaf)
//	0x80000001       ECX LAHF/SAHF (0), ABM/LZCNT (5); EDX SYSCALL (11), NX (20),
//	                 1 GiB pages (26), RDTSCP (27), LM (29)
//	0x80000002-4     brand string "softvmm x86-64 interpreter"
//	anything else    zeros
//
// The vendor string is deliberately neither Intel's nor AMD's, so guests
// take their generic paths instead of vendor-specific ones. The x87/SSE
// bits are fpstate.go's (cpuidFPEDX/ECX). The APIC bit (and x2APIC)
// appear only with an interrupt controller attached (intr.go), since the
// local APIC is a device the CPU does not know about.
const (
	cpuidVendor = "SoftvmmGoCPU"
	cpuidBrand  = "softvmm x86-64 interpreter"
)

func (c *CPU) cpuid(leaf, sub uint32) (a, b, cx, d uint32) {
	reg3 := func(s string) (uint32, uint32, uint32) {
		var buf [12]byte
		copy(buf[:], s)
		return binary.LittleEndian.Uint32(buf[0:]), binary.LittleEndian.Uint32(buf[4:]), binary.LittleEndian.Uint32(buf[8:])
	}
	switch leaf {
	case 0:
		b, d, cx = reg3(cpuidVendor) // EBX, EDX, ECX order
		return 0xd, b, cx, d
	case 1:
		a, b, cx, d = 0x6f1, uint32(c.vcpuid&0xff)<<24|1<<16|8<<8, 1<<13|1<<22|1<<23|1<<30|1<<31|cpuidFPECX,
			1<<3|1<<4|1<<5|1<<6|1<<8|1<<11|1<<13|1<<15|1<<19|cpuidFPEDX
		if c.cr4&cr4OSXSAVE != 0 {
			cx |= 1 << 27
		}
		if ctl := c.intr.ctl; ctl != nil {
			// A LAPIC is attached (intr.go): APIC (EDX 9), and x2APIC
			// (ECX 21) as its state says (reference §12 leaf 0x1).
			d |= 1 << 9
			if ctl.X2APIC() {
				cx |= 1 << 21
			}
		}
		return a, b, cx, d
	case 0xd:
		switch sub {
		case 0:
			return xcr0Supported, xsaveSize, xsaveSize, 0
		case 1:
			return 1, 0, 0, 0
		}
		return 0, 0, 0, 0
	case 0x40000000:
		b, cx, d = reg3("bhyve bhyve ")
		return 0x40000000, b, cx, d
	case 0x80000000:
		return 0x80000004, 0, 0, 0
	case 0x80000001:
		return 0, 0, 1 | 1<<5, 1<<11 | 1<<20 | 1<<26 | 1<<27 | 1<<29
	case 0x80000002, 0x80000003, 0x80000004:
		var buf [48]byte
		copy(buf[:], cpuidBrand)
		p := buf[(leaf-0x80000002)*16:]
		return binary.LittleEndian.Uint32(p), binary.LittleEndian.Uint32(p[4:]),
			binary.LittleEndian.Uint32(p[8:]), binary.LittleEndian.Uint32(p[12:])
	}
	return 0, 0, 0, 0
}
