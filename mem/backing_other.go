//go:build !unix

package mem

// allocBacking falls back to the Go heap where there is no mmap: correct,
// but a segment costs its full size up front.
func allocBacking(n int) (b []byte, err error) {
	defer func() {
		if recover() != nil {
			b, err = nil, errNoMem{}
		}
	}()
	return make([]byte, n), nil
}

type errNoMem struct{}

func (errNoMem) Error() string { return "cannot allocate memory" }

func freeBacking([]byte) error { return nil }
