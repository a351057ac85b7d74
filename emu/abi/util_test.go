package abi

import "testing"

func testingAllocs(f func()) float64 { return testing.AllocsPerRun(100, f) }

// vieField is one bitfield of struct vie, named as in C (§3.2).
type vieField struct {
	name  string
	width uint
	get   func(*Vie) uint8
	set   func(*Vie, uint8)
}

func vieBitfields() []vieField {
	var all []vieField
	add := func(name string, width uint, get func(*Vie) uint8, set func(*Vie, uint8)) {
		all = append(all, vieField{name, width, get, set})
	}
	flag := func(name string, get func(*Vie) bool, set func(*Vie, bool)) {
		add(name, 1, func(v *Vie) uint8 {
			if get(v) {
				return 1
			}
			return 0
		}, func(v *Vie, x uint8) { set(v, x&1 != 0) })
	}
	add("addrsize", 4, (*Vie).Addrsize, (*Vie).SetAddrsize)
	add("opsize", 4, (*Vie).Opsize, (*Vie).SetOpsize)
	flag("rex_w", (*Vie).RexW, (*Vie).SetRexW)
	flag("rex_r", (*Vie).RexR, (*Vie).SetRexR)
	flag("rex_x", (*Vie).RexX, (*Vie).SetRexX)
	flag("rex_b", (*Vie).RexB, (*Vie).SetRexB)
	flag("rex_present", (*Vie).RexPresent, (*Vie).SetRexPresent)
	flag("repz_present", (*Vie).RepzPresent, (*Vie).SetRepzPresent)
	flag("repnz_present", (*Vie).RepnzPresent, (*Vie).SetRepnzPresent)
	flag("opsize_override", (*Vie).OpsizeOverride, (*Vie).SetOpsizeOverride)
	flag("addrsize_override", (*Vie).AddrsizeOverride, (*Vie).SetAddrsizeOverride)
	flag("segment_override", (*Vie).SegmentOverride, (*Vie).SetSegmentOverride)
	add("mod", 2, (*Vie).Mod, (*Vie).SetMod)
	add("reg", 4, (*Vie).Reg, (*Vie).SetReg)
	add("rm", 4, (*Vie).Rm, (*Vie).SetRm)
	add("ss", 2, (*Vie).SS, (*Vie).SetSS)
	add("index", 4, (*Vie).Index, (*Vie).SetIndex)
	add("base", 4, (*Vie).Base, (*Vie).SetBase)
	return all
}
