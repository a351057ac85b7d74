package tables

import "encoding/binary"

// MP table values (Intel MultiProcessor Specification 1.4, chapter 4). The
// processor signature and feature flags are what bhyve's mptable.c reports
// (family 6 model 26 stepping 5, features 0xBFEBFBFF); guests read the
// real values from CPUID.
const (
	mpSpecRev     = 4
	mpCPUSig      = 6<<8 | 26<<4 | 5
	mpCPUFeatures = 0xbfebfbff

	mpProc     = 0
	mpBus      = 1
	mpIOAPIC   = 2
	mpIOIntr   = 3
	mpLocalInt = 4

	mpIntINT    = 0
	mpIntNMI    = 1
	mpIntExtINT = 3

	mpBusISA = 0
)

// mpTable writes the floating pointer structure and the configuration
// table, returning the floating pointer's address.
func (b *builder) mpTable(p Platform) uint64 {
	le := binary.LittleEndian
	fp := b.alloc(16, 16)
	t := make([]byte, 44)
	copy(t, "PCMP")
	t[6] = mpSpecRev
	copy(t[8:16], "SOFTVMM ")
	copy(t[16:28], "Softvmm     ")
	le.PutUint32(t[36:], LAPICBase)
	n := 0
	for i := 0; i < p.CPUs; i++ {
		flags := byte(1) // enabled
		if i == 0 {
			flags |= 2 // bootstrap processor
		}
		t = append(t, mpProc, byte(i), LAPICVersion, flags)
		t = le.AppendUint32(t, mpCPUSig)
		t = le.AppendUint32(t, mpCPUFeatures)
		t = append(t, make([]byte, 8)...)
		n++
	}
	t = append(t, mpBus, mpBusISA, 'I', 'S', 'A', ' ', ' ', ' ')
	n++
	ioapicID := byte(p.CPUs)
	t = append(t, mpIOAPIC, ioapicID, IOAPICVersion, 1)
	t = le.AppendUint32(t, IOAPICBase)
	n++
	ioint := func(kind uint8, flags uint16, irq, pin uint8) {
		t = append(t, mpIOIntr, kind)
		t = le.AppendUint16(t, flags)
		t = append(t, mpBusISA, irq, ioapicID, pin)
		n++
	}
	ioint(mpIntExtINT, mpsConforming, 0, 0) // the 8259 pair's INTR
	for irq := uint8(0); irq < 16; irq++ {
		switch irq {
		case 0:
			ioint(mpIntINT, mpsConforming, 0, 2) // PIT on pin 2
		case 2: // the cascade: not an input
		case SCIIRQ:
			ioint(mpIntINT, mpsHighLevel, irq, irq)
		default:
			ioint(mpIntINT, mpsConforming, irq, irq)
		}
	}
	for _, li := range []struct{ kind, lint uint8 }{{mpIntExtINT, 0}, {mpIntNMI, 1}} {
		t = append(t, mpLocalInt, li.kind)
		t = le.AppendUint16(t, mpsConforming)
		t = append(t, mpBusISA, 0, 0xff, li.lint) // all local APICs
		n++
	}
	le.PutUint16(t[4:], uint16(len(t)))
	le.PutUint16(t[34:], uint16(n))
	t[7] = checksum(t)
	ct := b.alloc(len(t), 16)
	b.put(ct, t)

	f := make([]byte, 16)
	copy(f, "_MP_")
	le.PutUint32(f[4:], uint32(ct))
	f[8] = 1 // length in 16-byte units
	f[9] = mpSpecRev
	// Feature byte 1 = 0: a configuration table is present; byte 2 bit 7
	// (IMCR) = 0: virtual wire mode.
	f[10] = checksum(f)
	b.put(fp, f)
	return fp
}
