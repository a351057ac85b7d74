package hostexec

// XS is FX with a scratch block large enough for XSAVE areas: the
// standard-format area of the x87 and SSE components is 576 bytes and
// must be 64-byte aligned (Intel SDM Vol. 1 §13.4). ExecXS puts Mem at a
// page offset of 2048, so RSI, RSI+576 rounded up to 64 (RSI+640) and so
// on are all suitably aligned.
type XS struct {
	Image [512]byte // FXSAVE64 layout, as FX.Image
	Mem   [1536]byte
}
