//go:build !amd64 || !linux

package hostexec

// DefaultFaultSignals is unavailable off amd64 Linux.
func DefaultFaultSignals() error { return errUnavailable }
