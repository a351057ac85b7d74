package userdev

import (
	"bytes"
	"testing"
)

// FuzzUARTAccesses drives the UART with an arbitrary access sequence (3
// bytes each: offset|size|direction, value, host input) and checks what must
// hold whatever the guest does: LSR always shows THRE|TEMT, IER bits 4-7 and
// MCR bits 5-7 read 0, and the line carries exactly the THR writes made with
// DLAB = 0 outside loopback, in order.
func FuzzUARTAccesses(f *testing.F) {
	f.Add([]byte{0x00, 'h', 0, 0x00, 'i', 0, 0x85, 0, 0})
	f.Add([]byte{0x03, 0x80, 0, 0x00, 0x0c, 0, 0x03, 0x03, 0, 0x04, 0x10, 'x', 0x00, 'y', 0, 0x80, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var out bytes.Buffer
		u := NewUART(&out)
		var want []byte
		for i := 0; i+2 < len(ops); i += 3 {
			op, v, in := ops[i], ops[i+1], ops[i+2]
			off := uint16(op & 7)
			size := []int{1, 1, 2, 4}[op>>3&3]
			if in != 0 && op&0x40 != 0 {
				u.Receive([]byte{in})
			}
			if op&0x80 != 0 {
				u.In(off, size)
				continue
			}
			val := uint32(v) * 0x01010101
			for j := 0; j < size && int(off)+j < 8; j++ {
				r := int(off) + j
				if r == 0 && u.lcr&0x80 == 0 && u.mcr&0x10 == 0 {
					want = append(want, v)
				}
				u.Out(uint16(r), 1, val)
			}
			if lsr := u.In(5, 1); lsr&0x60 != 0x60 {
				t.Fatalf("LSR = %#x without THRE|TEMT", lsr)
			}
			if u.lcr&0x80 == 0 {
				if ier := u.In(1, 1); ier&0xf0 != 0 {
					t.Fatalf("IER = %#x", ier)
				}
			}
			if mcr := u.In(4, 1); mcr&0xe0 != 0 {
				t.Fatalf("MCR = %#x", mcr)
			}
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("line carried %q, want %q", out.Bytes(), want)
		}
	})
}
