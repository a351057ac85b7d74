package userdev

// POSTBase is the PC's POST diagnostic port: firmware writes a progress code
// to it at each boot stage, which a POST card (or here the runner) shows.
const (
	POSTBase = 0x80
	POSTSize = 1
)

// POST records the codes written to port 0x80. Reads return 0xff, as on
// QEMU's PC machine, where nothing drives the port on an IN; many PC
// chipsets would return the last code instead, so a guest cannot rely on
// either. Port 0x80 is also the classic I/O delay port (an OUT to it is a
// few microseconds of bus time), so a busy guest writes it often: codes are
// kept only up to a bound, the count and the last code always.
type POST struct {
	notify func(code uint8)
	codes  []uint8
	last   uint8
	n      uint64
	max    int
}

// POSTKeep is how many codes a POST keeps by default.
const POSTKeep = 4096

// NewPOST returns the POST port; notify, if not nil, sees every code as it
// is written.
func NewPOST(notify func(code uint8)) *POST {
	return &POST{notify: notify, max: POSTKeep}
}

// In reads all ones.
func (p *POST) In(off uint16, size int) uint32 { return sizeMask(size) }

// Out records the code (the window is one port, so the bus hands it byte
// OUTs only).
func (p *POST) Out(off uint16, size int, v uint32) {
	c := uint8(v)
	p.last = c
	p.n++
	if len(p.codes) < p.max {
		p.codes = append(p.codes, c)
	}
	if p.notify != nil {
		p.notify(c)
	}
}

// Codes returns the first codes written (up to POSTKeep), in order.
func (p *POST) Codes() []uint8 { return append([]uint8(nil), p.codes...) }

// Last returns the last code written and how many writes there were.
func (p *POST) Last() (code uint8, writes uint64) { return p.last, p.n }
