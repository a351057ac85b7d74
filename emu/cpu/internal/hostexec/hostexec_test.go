package hostexec

import "testing"

func TestAdd(t *testing.T) {
	if !Available {
		t.Skip("no native execution here")
	}
	st := &State{}
	st.Regs[0] = 0xffffffffffffffff
	st.Regs[1] = 1
	if err := Exec([]byte{0x48, 0x01, 0xc8}, st); err != nil { // add rax, rcx
		t.Fatal(err)
	}
	if st.Regs[0] != 0 || st.Flags&0x41 != 0x41 {
		t.Fatalf("rax %#x flags %#x, want 0 with CF and ZF", st.Regs[0], st.Flags)
	}
}
