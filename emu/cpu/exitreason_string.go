package cpu

import "fmt"

var exitNames = [...]string{
	ExitNone: "ExitNone", ExitBudget: "ExitBudget", ExitInOut: "ExitInOut", ExitHLT: "ExitHLT",
	ExitMMIO: "ExitMMIO", ExitTripleFault: "ExitTripleFault", ExitRDMSR: "ExitRDMSR",
	ExitWRMSR: "ExitWRMSR", ExitError: "ExitError", ExitPause: "ExitPause",
	ExitInOutStr: "ExitInOutStr",
}

func (r ExitReason) String() string {
	if int(r) < len(exitNames) {
		return exitNames[r]
	}
	return fmt.Sprintf("ExitReason(%d)", r)
}
