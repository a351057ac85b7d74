package jail

import "softvmm/emu/abi"

// Ucred is struct ucred: who is calling and from which prison. A Ucred
// made as a literal stands for a kernel thread's credential and holds no
// user reference; one returned by Spawn, (*Proc).Cred or an attach belongs
// to a process, whose presence keeps its prison alive (§1.4).
type Ucred struct {
	UID    int   // cr_uid (effective)
	GID    int   // cr_gid
	Groups []int // supplementary groups (cr_groups beyond the first)
	Prison *Prison

	proc *Proc
}

// Jailed is jailed(cred): the credential's prison is not prison0. It says
// nothing about depth (§1.1).
func (c *Ucred) Jailed() bool { return c.Prison != c.Prison.host.prison0 }

// InGroup is groupmember(gid, cred): the primary or a supplementary
// group.
func (c *Ucred) InGroup(gid int) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// Proc returns the process this credential belongs to, or nil.
func (c *Ucred) Proc() *Proc { return c.proc }

// Proc is a process, modelled just far enough for user references: it
// lives in its credential's prison, holds a pr_uref there until it exits
// or is killed by jail_remove, and moves with jail_attach.
type Proc struct {
	PID  int
	host *Host

	// guarded by host.mu
	cred   *Ucred
	exited bool
	killed bool
}

// Spawn is fork(2) from cred: a new process with a copy of cred, counted
// in its prison. A prison that is not alive takes no new processes
// (prison_proc_hold's rule): EAGAIN.
func (h *Host) Spawn(cred *Ucred) (*Proc, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	pr := cred.Prison
	if pr.state != PRISON_STATE_ALIVE {
		return nil, abi.EAGAIN
	}
	p := &Proc{PID: h.nextPID, host: h}
	h.nextPID++
	p.cred = &Ucred{UID: cred.UID, GID: cred.GID, Groups: cred.Groups, Prison: pr, proc: p}
	pr.procs = append(pr.procs, p)
	pr.uref++
	return p, nil
}

// Cred is td_ucred of the process's thread.
func (p *Proc) Cred() *Ucred {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.cred
}

// Exit ends the process: its prison loses the user reference, and a
// jail whose last process leaves (without persist) starts dying.
func (p *Proc) Exit() {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	p.host.exitLocked(p)
}

// Exited reports whether the process has exited (or was killed).
func (p *Proc) Exited() bool {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.exited
}

// Killed reports whether jail_remove killed the process (SIGKILL).
func (p *Proc) Killed() bool {
	p.host.mu.Lock()
	defer p.host.mu.Unlock()
	return p.killed
}

func (h *Host) exitLocked(p *Proc) {
	if p.exited {
		return
	}
	p.exited = true
	pr := p.cred.Prison
	for i, q := range pr.procs {
		if q == p {
			pr.procs = append(pr.procs[:i], pr.procs[i+1:]...)
			break
		}
	}
	h.urefDropLocked(pr)
}

// moveLocked is the tail of do_jail_attach: the process gets a new
// credential in pr, gaining a user reference there and dropping the one
// it held in its old prison. A credential without a process only gets
// the new credential.
func (h *Host) moveLocked(cred *Ucred, pr *Prison) *Ucred {
	nc := &Ucred{UID: cred.UID, GID: cred.GID, Groups: cred.Groups, Prison: pr}
	p := cred.proc
	if p == nil || p.exited {
		return nc
	}
	nc.proc = p
	old := p.cred.Prison
	pr.procs = append(pr.procs, p)
	pr.uref++
	for i, q := range old.procs {
		if q == p {
			old.procs = append(old.procs[:i], old.procs[i+1:]...)
			break
		}
	}
	p.cred = nc
	h.urefDropLocked(old)
	return nc
}
