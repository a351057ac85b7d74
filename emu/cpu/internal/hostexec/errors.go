package hostexec

import "errors"

var errUnavailable = errors.New("hostexec: native execution needs linux/amd64")

var _ = errUnavailable
