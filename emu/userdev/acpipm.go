package userdev

// The ACPI PM1 event and control blocks (ACPI 6.x §4.8.3.1, §4.8.3.2) at
// the ports the platform's FADT gives (emu/boot/tables: PM1a_EVT_BLK 0x600,
// 4 bytes; PM1a_CNT_BLK 0x604, 2 bytes, where QEMU's PIIX4 has them and
// reference/linux-boot.md §6 saw Linux power off). The PM timer is the
// kernel's, at 0x408 (reference/vmm-devices.md §8).
const (
	PM1Base = 0x600
	PM1Size = 6

	pm1EnMask   = 0x4721 // TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN, PCIEXP_WAKE_DIS
	pm1CntSCIEn = 0x0001
	pm1CntKeep  = 0x1c02 // BM_RLD and SLP_TYP hold what is written
	pm1CntSlpEn = 0x2000 // write-only: enter the SLP_TYP state

	// SlpTypS5 is the sleep type the platform's DSDT names in \_S5, so a
	// write of SLP_TYP=5 with SLP_EN is the guest powering off.
	SlpTypS5 = 5
)

// ACPIPM holds PM1_STS, PM1_EN and PM1_CNT. Nothing raises an event here
// (no power button, no timer-overflow SCI), so PM1_STS reads 0; SCI_EN reads
// 1 because the FADT has no SMI_CMD (the machine is always in ACPI mode).
// A write that sets SLP_EN with SLP_TYP = 5 is an S5 request, handed to the
// sleep callback; other sleep states are not offered by the DSDT and are
// ignored.
type ACPIPM struct {
	en, cnt uint16
	sleep   func(slpTyp int)
}

// NewACPIPM returns the blocks; sleep is called with the SLP_TYP of each
// sleep request.
func NewACPIPM(sleep func(slpTyp int)) *ACPIPM {
	return &ACPIPM{cnt: pm1CntSCIEn, sleep: sleep}
}

func (p *ACPIPM) reg(r int) uint8 {
	switch r {
	case 2, 3:
		return uint8(p.en >> (8 * (r - 2)))
	case 4, 5:
		return uint8((p.cnt | pm1CntSCIEn) >> (8 * (r - 4)))
	}
	return 0 // PM1_STS: nothing pending
}

// In reads the registers byte by byte, as the ports are byte-addressable.
func (p *ACPIPM) In(off uint16, size int) uint32 {
	var v uint32
	for i := 0; i < size; i++ {
		if r := int(off) + i; r < PM1Size {
			v |= uint32(p.reg(r)) << (8 * i)
		}
	}
	return v
}

// Out writes them; PM1_STS is write-1-to-clear and has nothing to clear.
func (p *ACPIPM) Out(off uint16, size int, v uint32) {
	for i := 0; i < size; i++ {
		b := uint16(uint8(v >> (8 * i)))
		switch int(off) + i {
		case 2:
			p.en = (p.en&0xff00 | b) & pm1EnMask
		case 3:
			p.en = (p.en&0x00ff | b<<8) & pm1EnMask
		case 4:
			p.cnt = p.cnt&0xff00 | b&pm1CntKeep
		case 5:
			w := b << 8
			p.cnt = p.cnt&0x00ff | w&pm1CntKeep
			if w&pm1CntSlpEn != 0 && p.sleep != nil {
				p.sleep(int(w >> 10 & 7))
			}
		}
	}
}
