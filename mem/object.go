package mem

import (
	"math"
	"sync"
	"sync/atomic"

	"softvmm/emu/abi"
)

// object is a segment's backing store, playing the part of the kernel's
// vm_object: the Space holds one reference per segment and every slice
// handed out by Mmap or DevmemMmap holds another, so the host memory is
// unmapped only when the VM is gone and the user has released every view
// (reference/vmm-interface.md §6.4: the mapping takes vm_object_reference).
type object struct {
	mem  []byte
	refs int // guarded by objMu
}

// exportKey names one slice returned to a user by its first byte and length,
// which is what Munmap is given back.
type exportKey struct {
	p *byte
	n int
}

type export struct {
	obj   *object
	count int // identical slices handed out and not yet released
}

var (
	objMu    sync.Mutex
	exported = map[exportKey]*export{}

	// liveBytes counts host bytes held by backings not yet freed, so a
	// test can show that destroying every VM and releasing every view
	// gives all guest memory back (issue 6: no mmap leak).
	liveBytes atomic.Int64
)

// LiveBytes reports how many bytes of host memory guest segments hold now,
// across every VM in the process.
func LiveBytes() int64 { return liveBytes.Load() }

// newObject allocates a zero-filled backing of length bytes. Failure is
// ENOMEM, the kernel's answer when vm_object_allocate fails
// (reference/vmm-interface.md §6.1).
func newObject(length uint64) (*object, error) {
	if length > math.MaxInt {
		return nil, abi.ENOMEM
	}
	b, err := allocBacking(int(length))
	if err != nil {
		return nil, abi.ENOMEM
	}
	liveBytes.Add(int64(len(b)))
	return &object{mem: b, refs: 1}, nil
}

// release drops one reference and frees the memory with the last.
func (o *object) release() error {
	objMu.Lock()
	o.refs--
	last := o.refs == 0
	objMu.Unlock()
	if !last {
		return nil
	}
	if err := freeBacking(o.mem); err != nil {
		return abi.EINVAL
	}
	liveBytes.Add(-int64(len(o.mem)))
	return nil
}

// exportSlice records b (a window of o) as handed to a user and takes a
// reference on o for it.
func exportSlice(o *object, b []byte) []byte {
	objMu.Lock()
	defer objMu.Unlock()
	o.refs++
	k := exportKey{&b[0], len(b)}
	if e := exported[k]; e != nil {
		e.count++
	} else {
		exported[k] = &export{obj: o, count: 1}
	}
	return b
}

// Munmap releases a slice returned by Mmap or DevmemMmap, as munmap(2) of
// the user mapping drops its object reference. After it the slice must not
// be used. A slice that was not returned by them (or was already released
// as often as it was returned) gets EINVAL, munmap(2)'s answer to a bad
// range.
func Munmap(b []byte) error {
	if len(b) == 0 {
		return abi.EINVAL
	}
	k := exportKey{&b[0], len(b)}
	objMu.Lock()
	e := exported[k]
	if e == nil {
		objMu.Unlock()
		return abi.EINVAL
	}
	e.count--
	if e.count == 0 {
		delete(exported, k)
	}
	objMu.Unlock()
	return e.obj.release()
}
