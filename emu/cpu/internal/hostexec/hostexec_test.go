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

// ExecFull sees every register, the stack and the window: push rbp;
// pop r15; mov [rsp-16], r12; call next; pop rax leave RSP, R15, RAX and
// memory as the SDM says (the CALL's return address is CodeAddr+13).
func TestExecFull(t *testing.T) {
	st := &FullState{}
	st.Regs[4] = WindowBase + 0x1000
	st.Regs[5] = 0x1122334455667788
	st.Regs[12] = 0xdeadbeef
	mem := make([]byte, WindowSize)
	img := make([]byte, 4096)
	code := []byte{0x55, 0x41, 0x5f, 0x4c, 0x89, 0x64, 0x24, 0xf0, 0xe8, 0, 0, 0, 0, 0x58}
	if err := ExecFull(code, st, mem, img); err != nil {
		t.Skip(err)
	}
	if st.Regs[15] != 0x1122334455667788 || st.Regs[4] != WindowBase+0x1000 || st.Regs[0] != CodeAddr+13 {
		t.Fatalf("r15 %#x rsp %#x rax %#x", st.Regs[15], st.Regs[4], st.Regs[0])
	}
	if mem[0xff0] != 0xef || mem[0xff1] != 0xbe || mem[0xff8] != 0x1d || mem[0xffa] != 0x14 {
		t.Fatalf("store to [rsp-8] missing: % x", mem[0xff0:0x1000])
	}
}
