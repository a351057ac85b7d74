package userdev

import "io"

// DebugconBase is QEMU's isa-debugcon default port on PCs (0x402, the port
// SeaBIOS and OVMF write their debug log to); DebugconReadback is what an IN
// from it returns (QEMU's default readback value 0xe9, which lets a guest
// detect the console by reading the port).
const (
	DebugconBase     = 0x402
	DebugconSize     = 1
	DebugconReadback = 0xe9
)

// Debugcon is QEMU's isa-debugcon: every byte written to its port goes to an
// io.Writer as it is, with no registers or status to poll. A wider OUT sends
// its bytes low first, as a string of byte OUTs would.
type Debugcon struct {
	out  io.Writer
	err  error
	obuf [4]byte
}

// NewDebugcon returns a debug console writing to out (nil discards).
func NewDebugcon(out io.Writer) *Debugcon {
	if out == nil {
		out = io.Discard
	}
	return &Debugcon{out: out}
}

// In returns the readback value in every byte.
func (d *Debugcon) In(off uint16, size int) uint32 {
	return DebugconReadback * 0x01010101 & sizeMask(size)
}

// Out writes the bytes of v.
func (d *Debugcon) Out(off uint16, size int, v uint32) {
	for i := 0; i < size; i++ {
		d.obuf[i] = byte(v >> (8 * i))
	}
	if _, err := d.out.Write(d.obuf[:size]); err != nil && d.err == nil {
		d.err = err
	}
}

// Err returns the first error the writer returned.
func (d *Debugcon) Err() error { return d.err }
