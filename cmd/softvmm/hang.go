package main

import (
	"sync/atomic"
	"time"

	"softvmm/emu/abi"
	"softvmm/emu/vmmapi"
)

// hangWatch stops a guest that can never run again. Every vCPU asleep in
// HLT with nothing armed to wake it is where bhyve would sit for ever
// (vm_handle_hlt sleeps until an interrupt comes); a test run must end
// instead, with a message that says why. The state is terminal while no
// one injects anything, so how soon the watcher notices does not change
// what the guest did: runs stay deterministic. With a terminal on
// standard input the user may still type, so the watcher stays off.
type hangWatch struct {
	hung atomic.Bool
	done chan struct{}
}

// hangPoll is how often the watcher looks (host time; only the latency of
// the report depends on it).
const hangPoll = 5 * time.Millisecond

func startHangWatch(ctx *vmmapi.VMCtx, interactive bool) *hangWatch {
	w := &hangWatch{done: make(chan struct{})}
	if interactive {
		return w
	}
	vm := ctx.Dev().VM()
	go func() {
		t := time.NewTicker(hangPoll)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				if vm.Hung() {
					w.hung.Store(true)
					ctx.Suspend(abi.VM_SUSPEND_POWEROFF)
					return
				}
			}
		}
	}()
	return w
}

func (w *hangWatch) stop() { close(w.done) }
