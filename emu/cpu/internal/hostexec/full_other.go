//go:build !amd64 || !linux

package hostexec

// ExecFull is unavailable off amd64 Linux; tests skip.
func ExecFull(code []byte, st *FullState, mem []byte, image []byte) error { return errUnavailable }
