//go:build !amd64 || !linux

package hostexec

// Exec is unavailable off amd64 Linux; tests skip.
func Exec(code []byte, st *State) error { return errUnavailable }
