package jail

import (
	"strings"

	"softvmm/emu/abi"
)

// SysctlInt reads (newval nil) or writes one of the integer sysctls the
// jail code owns, through sysctl_root's gate (§1.9):
//
//   - security.jail.param.allow.X: made by prison_add_allow for every
//     allow bit, CTLTYPE_INT|CTLFLAG_RW. It only describes the parameter
//     to libjail, so a read is always 0 and a write changes nothing.
//   - security.jail.X_allowed (dots in X become '_'): the deprecated
//     jail_default_allow knob, CTLFLAG_RW without CTLFLAG_PRISON, so only
//     host root may write it (row J21); read from a jail it reports that
//     jail's own bit.
//   - security.jail.jailed: read-only, 1 inside a jail.
//
// Names of allow bits nobody registered do not exist (ENOENT): before
// vmm loads there is no security.jail.vmm_allowed. Registration is never
// undone, so they outlive a module unload, as the real nodes do (§1.6
// step 7).
func (h *Host) SysctlInt(cred *Ucred, name string, newval *int) (int, error) {
	const rw = CTLFLAG_RW
	if name == "security.jail.jailed" {
		if newval != nil {
			return 0, abi.EPERM // CTLFLAG_RD: sysctl_root refuses any write
		}
		if cred.Jailed() {
			return 1, nil
		}
		return 0, nil
	}
	if a, ok := strings.CutPrefix(name, "security.jail.param.allow."); ok {
		if _, known := h.AllowBit(a); !known {
			return 0, abi.ENOENT
		}
		if newval != nil {
			if err := SysctlWriteCheck(cred, rw); err != nil {
				return 0, err
			}
		}
		return 0, nil
	}
	a, ok := strings.CutPrefix(name, "security.jail.")
	if !ok {
		return 0, abi.ENOENT
	}
	a, ok = strings.CutSuffix(a, "_allowed")
	if !ok {
		return 0, abi.ENOENT
	}
	bit, known := uint32(0), false
	h.mu.Lock()
	for _, e := range h.table {
		if strings.ReplaceAll(e.name, ".", "_") == a {
			bit, known = e.bit, true
		}
	}
	h.mu.Unlock()
	if !known {
		return 0, abi.ENOENT
	}
	if newval != nil {
		if err := SysctlWriteCheck(cred, rw); err != nil {
			return 0, err
		}
		h.mu.Lock()
		if *newval != 0 {
			h.defaultAllow |= bit
		} else {
			h.defaultAllow &^= bit
		}
		h.mu.Unlock()
		return *newval, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	v := h.defaultAllow
	if cred.Jailed() {
		v = cred.Prison.allow
	}
	if v&bit != 0 {
		return 1, nil
	}
	return 0, nil
}
