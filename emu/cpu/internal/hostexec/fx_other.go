//go:build !amd64 || !linux

package hostexec

// ExecFX is unavailable off amd64 Linux; tests skip.
func ExecFX(code []byte, st *State, fx *FX) error { return errUnavailable }
