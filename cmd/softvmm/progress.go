package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"softvmm/emu/vmmapi"
)

// progress prints a line on a terminal's stderr every second of a long run:
// instructions retired (by all vCPUs) and wall time, rewritten in place. The count is the
// kernel's, refreshed every interpreter quantum (vmm.VM.Retired), so it is
// current even while the guest makes no exits, and reading it never stops
// the vCPU: only stderr sees the line.
type progress struct {
	done chan struct{}
	exit chan struct{}
	once sync.Once
}

func startProgress(ctx *vmmapi.VMCtx, stderr io.Writer, rf *runFlags) *progress {
	f, ok := stderr.(*os.File)
	if !ok || rf.trace != "" {
		return nil
	}
	if st, err := f.Stat(); err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	p := &progress{done: make(chan struct{}), exit: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(p.exit)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		shown := false
		for {
			select {
			case <-p.done:
				if shown {
					fmt.Fprint(f, "\r\033[K")
				}
				return
			case <-t.C:
				var n uint64
				for id := 0; id < rf.cpus; id++ {
					n += ctx.Dev().VM().Retired(id)
				}
				fmt.Fprintf(f, "\rsoftvmm run: %.1f M instructions, %.0f s\033[K", float64(n)/1e6, time.Since(start).Seconds())
				shown = true
			}
		}
	}()
	return p
}

// stop erases the line. It runs before anything else goes to stderr (see
// guard) and at the end of the run.
func (p *progress) stop() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.done)
		<-p.exit
	})
}

// guard returns stderr wrapped so that the first write stops the progress
// line, and messages never land in the middle of it.
func (p *progress) guard(stderr io.Writer) io.Writer {
	if p == nil {
		return stderr
	}
	return guarded{p, stderr}
}

type guarded struct {
	p *progress
	w io.Writer
}

func (g guarded) Write(b []byte) (int, error) {
	g.p.stop()
	return g.w.Write(b)
}
