//go:build amd64 && linux

package hostexec

// ExecXS runs code as ExecFX does, with XS's larger scratch block (the
// same trampoline: runfx points RSI at area+1024, page offset 2048, and
// the page has room for 2048 bytes there).
func ExecXS(code []byte, st *State, xs *XS) error {
	fx := FX{Image: xs.Image}
	err := execFXWith(code, st, &fx, xs.Mem[:])
	xs.Image = fx.Image
	return err
}
