//go:build amd64

package hostexec

// Available reports whether Exec can run instructions on this host.
const Available = true

//go:noescape
func run(st *State)
