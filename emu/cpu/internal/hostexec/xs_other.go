//go:build !amd64 || !linux

package hostexec

// ExecXS is unavailable off amd64 Linux; tests skip.
func ExecXS(code []byte, st *State, xs *XS) error { return errUnavailable }
