package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
)

// Encode and Decode move typed argument structs to and from the raw
// little-endian bytes of an ioctl argument (the byte-level entry point of
// DESIGN.md "ABI fidelity"). The layout is encoding/binary's, which the
// explicit padding in structs.go makes identical to the C one. Blank
// (padding) fields encode as zeros and are ignored on decode.
//
// The errors are plain Go errors, not Errno: a size mismatch here is a
// caller bug or a fuzzer's input, and the kernel decides which errno the
// guest-facing side reports.

// Encode writes v (a fixed-size value or a pointer to one) into dst, which
// must be exactly binary.Size(v) bytes long.
func Encode(dst []byte, v any) (err error) {
	defer recoverTo(&err, "Encode")
	n, err := checkSize("Encode", v, len(dst))
	if err != nil {
		return err
	}
	_, err = binary.Encode(dst[:n], binary.LittleEndian, v)
	return err
}

// Decode fills *v from src, which must be exactly binary.Size(v) bytes.
// v must be a non-nil pointer to a fixed-size value.
func Decode(src []byte, v any) (err error) {
	defer recoverTo(&err, "Decode")
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("abi.Decode: need a non-nil pointer, got %T", v)
	}
	n, err := checkSize("Decode", v, len(src))
	if err != nil {
		return err
	}
	_, err = binary.Decode(src[:n], binary.LittleEndian, v)
	return err
}

func checkSize(op string, v any, have int) (int, error) {
	if v == nil {
		return 0, errors.New("abi." + op + ": nil value")
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		return 0, fmt.Errorf("abi.%s: nil %T", op, v)
	}
	n := binary.Size(v)
	if n < 0 {
		return 0, fmt.Errorf("abi.%s: %T has no fixed-size encoding", op, v)
	}
	if n != have {
		return 0, fmt.Errorf("abi.%s: %T is %d bytes, buffer is %d", op, v, n, have)
	}
	return n, nil
}

// recoverTo turns a panic inside encoding/binary (which should not happen
// for the types checked above) into an error, so no input can crash the
// caller.
func recoverTo(err *error, op string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("abi.%s: %v", op, r)
	}
}
