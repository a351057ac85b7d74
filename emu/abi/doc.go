// Package abi mirrors the FreeBSD 12 amd64 vmm(4) user ABI: ioctl command
// numbers, argument structs with C sizes and offsets, the vm_exit union,
// enumerations, and errno values with FreeBSD's numbers and strerror texts
// (reference/vmm-interface.md §2-§4, §7-§8).
//
// Everything here is data and pure functions; the package imports nothing
// of softvmm's, so the kernel, the client library, device models and tests
// can all share one definition of the ABI. Layout agreement with C is
// enforced by tests against the reference tables and, where a C compiler
// is present, against the compiler itself (cabi_test.go).
package abi
