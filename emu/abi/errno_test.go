package abi

import (
	"errors"
	"fmt"
	"testing"
)

// freebsdErrno is FreeBSD 12's errno list, numbers and strerror texts,
// transcribed from freebsd/freebsd-src lib/libc/gen/errlst.c @039ea811
// (0-93) and sys/sys/errno.h @01ca612a (1-87), with 93-96 from the fork
// fel1x-developer/freebsd-src lib/libc/gen/errlst.c and sys/sys/errno.h
// @2d614aa2 (which add only EINTEGRITY 97, FreeBSD 13+, after them).
var freebsdErrno = []struct {
	e    Errno
	num  int
	name string
	text string
}{
	{EPERM, 1, "EPERM", "Operation not permitted"},
	{ENOENT, 2, "ENOENT", "No such file or directory"},
	{ESRCH, 3, "ESRCH", "No such process"},
	{EINTR, 4, "EINTR", "Interrupted system call"},
	{EIO, 5, "EIO", "Input/output error"},
	{ENXIO, 6, "ENXIO", "Device not configured"},
	{E2BIG, 7, "E2BIG", "Argument list too long"},
	{ENOEXEC, 8, "ENOEXEC", "Exec format error"},
	{EBADF, 9, "EBADF", "Bad file descriptor"},
	{ECHILD, 10, "ECHILD", "No child processes"},
	{EDEADLK, 11, "EDEADLK", "Resource deadlock avoided"},
	{ENOMEM, 12, "ENOMEM", "Cannot allocate memory"},
	{EACCES, 13, "EACCES", "Permission denied"},
	{EFAULT, 14, "EFAULT", "Bad address"},
	{ENOTBLK, 15, "ENOTBLK", "Block device required"},
	{EBUSY, 16, "EBUSY", "Device busy"},
	{EEXIST, 17, "EEXIST", "File exists"},
	{EXDEV, 18, "EXDEV", "Cross-device link"},
	{ENODEV, 19, "ENODEV", "Operation not supported by device"},
	{ENOTDIR, 20, "ENOTDIR", "Not a directory"},
	{EISDIR, 21, "EISDIR", "Is a directory"},
	{EINVAL, 22, "EINVAL", "Invalid argument"},
	{ENFILE, 23, "ENFILE", "Too many open files in system"},
	{EMFILE, 24, "EMFILE", "Too many open files"},
	{ENOTTY, 25, "ENOTTY", "Inappropriate ioctl for device"},
	{ETXTBSY, 26, "ETXTBSY", "Text file busy"},
	{EFBIG, 27, "EFBIG", "File too large"},
	{ENOSPC, 28, "ENOSPC", "No space left on device"},
	{ESPIPE, 29, "ESPIPE", "Illegal seek"},
	{EROFS, 30, "EROFS", "Read-only file system"},
	{EMLINK, 31, "EMLINK", "Too many links"},
	{EPIPE, 32, "EPIPE", "Broken pipe"},
	{EDOM, 33, "EDOM", "Numerical argument out of domain"},
	{ERANGE, 34, "ERANGE", "Result too large"},
	{EAGAIN, 35, "EAGAIN", "Resource temporarily unavailable"},
	{EINPROGRESS, 36, "EINPROGRESS", "Operation now in progress"},
	{EALREADY, 37, "EALREADY", "Operation already in progress"},
	{ENOTSOCK, 38, "ENOTSOCK", "Socket operation on non-socket"},
	{EDESTADDRREQ, 39, "EDESTADDRREQ", "Destination address required"},
	{EMSGSIZE, 40, "EMSGSIZE", "Message too long"},
	{EPROTOTYPE, 41, "EPROTOTYPE", "Protocol wrong type for socket"},
	{ENOPROTOOPT, 42, "ENOPROTOOPT", "Protocol not available"},
	{EPROTONOSUPPORT, 43, "EPROTONOSUPPORT", "Protocol not supported"},
	{ESOCKTNOSUPPORT, 44, "ESOCKTNOSUPPORT", "Socket type not supported"},
	{EOPNOTSUPP, 45, "EOPNOTSUPP", "Operation not supported"},
	{EPFNOSUPPORT, 46, "EPFNOSUPPORT", "Protocol family not supported"},
	{EAFNOSUPPORT, 47, "EAFNOSUPPORT", "Address family not supported by protocol family"},
	{EADDRINUSE, 48, "EADDRINUSE", "Address already in use"},
	{EADDRNOTAVAIL, 49, "EADDRNOTAVAIL", "Can't assign requested address"},
	{ENETDOWN, 50, "ENETDOWN", "Network is down"},
	{ENETUNREACH, 51, "ENETUNREACH", "Network is unreachable"},
	{ENETRESET, 52, "ENETRESET", "Network dropped connection on reset"},
	{ECONNABORTED, 53, "ECONNABORTED", "Software caused connection abort"},
	{ECONNRESET, 54, "ECONNRESET", "Connection reset by peer"},
	{ENOBUFS, 55, "ENOBUFS", "No buffer space available"},
	{EISCONN, 56, "EISCONN", "Socket is already connected"},
	{ENOTCONN, 57, "ENOTCONN", "Socket is not connected"},
	{ESHUTDOWN, 58, "ESHUTDOWN", "Can't send after socket shutdown"},
	{ETOOMANYREFS, 59, "ETOOMANYREFS", "Too many references: can't splice"},
	{ETIMEDOUT, 60, "ETIMEDOUT", "Operation timed out"},
	{ECONNREFUSED, 61, "ECONNREFUSED", "Connection refused"},
	{ELOOP, 62, "ELOOP", "Too many levels of symbolic links"},
	{ENAMETOOLONG, 63, "ENAMETOOLONG", "File name too long"},
	{EHOSTDOWN, 64, "EHOSTDOWN", "Host is down"},
	{EHOSTUNREACH, 65, "EHOSTUNREACH", "No route to host"},
	{ENOTEMPTY, 66, "ENOTEMPTY", "Directory not empty"},
	{EPROCLIM, 67, "EPROCLIM", "Too many processes"},
	{EUSERS, 68, "EUSERS", "Too many users"},
	{EDQUOT, 69, "EDQUOT", "Disc quota exceeded"},
	{ESTALE, 70, "ESTALE", "Stale NFS file handle"},
	{EREMOTE, 71, "EREMOTE", "Too many levels of remote in path"},
	{EBADRPC, 72, "EBADRPC", "RPC struct is bad"},
	{ERPCMISMATCH, 73, "ERPCMISMATCH", "RPC version wrong"},
	{EPROGUNAVAIL, 74, "EPROGUNAVAIL", "RPC prog. not avail"},
	{EPROGMISMATCH, 75, "EPROGMISMATCH", "Program version wrong"},
	{EPROCUNAVAIL, 76, "EPROCUNAVAIL", "Bad procedure for program"},
	{ENOLCK, 77, "ENOLCK", "No locks available"},
	{ENOSYS, 78, "ENOSYS", "Function not implemented"},
	{EFTYPE, 79, "EFTYPE", "Inappropriate file type or format"},
	{EAUTH, 80, "EAUTH", "Authentication error"},
	{ENEEDAUTH, 81, "ENEEDAUTH", "Need authenticator"},
	{EIDRM, 82, "EIDRM", "Identifier removed"},
	{ENOMSG, 83, "ENOMSG", "No message of desired type"},
	{EOVERFLOW, 84, "EOVERFLOW", "Value too large to be stored in data type"},
	{ECANCELED, 85, "ECANCELED", "Operation canceled"},
	{EILSEQ, 86, "EILSEQ", "Illegal byte sequence"},
	{ENOATTR, 87, "ENOATTR", "Attribute not found"},
	{EDOOFUS, 88, "EDOOFUS", "Programming error"},
	{EBADMSG, 89, "EBADMSG", "Bad message"},
	{EMULTIHOP, 90, "EMULTIHOP", "Multihop attempted"},
	{ENOLINK, 91, "ENOLINK", "Link has been severed"},
	{EPROTO, 92, "EPROTO", "Protocol error"},
	{ENOTCAPABLE, 93, "ENOTCAPABLE", "Capabilities insufficient"},
	{ECAPMODE, 94, "ECAPMODE", "Not permitted in capability mode"},
	{ENOTRECOVERABLE, 95, "ENOTRECOVERABLE", "State not recoverable"},
	{EOWNERDEAD, 96, "EOWNERDEAD", "Previous owner died"},
}

func TestErrnoTable(t *testing.T) {
	if len(freebsdErrno) != 96 {
		t.Fatalf("table has %d rows, FreeBSD 12 has 96 errnos", len(freebsdErrno))
	}
	for i, r := range freebsdErrno {
		if r.num != i+1 {
			t.Errorf("row %d is errno %d: table not contiguous", i, r.num)
		}
		if int(r.e) != r.num {
			t.Errorf("%s = %d, FreeBSD %d", r.name, int(r.e), r.num)
		}
		if got := r.e.Error(); got != r.text {
			t.Errorf("%s.Error() = %q, FreeBSD %q", r.name, got, r.text)
		}
		if got := r.e.Name(); got != r.name {
			t.Errorf("Errno(%d).Name() = %q, want %q", r.num, got, r.name)
		}
	}
	if ELAST != 96 {
		t.Errorf("ELAST = %d, FreeBSD 12 has 96", ELAST)
	}
	if EWOULDBLOCK != EAGAIN || ENOTSUP != EOPNOTSUPP {
		t.Error("aliases")
	}
}

func TestErrnoSpotChecks(t *testing.T) {
	// The values DESIGN.md singles out: FreeBSD, not Linux, numbering.
	if EAGAIN != 35 {
		t.Errorf("EAGAIN = %d, want 35", EAGAIN)
	}
	if ENOTTY != 25 || ENOTTY.Error() != "Inappropriate ioctl for device" {
		t.Errorf("ENOTTY = %d %q", ENOTTY, ENOTTY.Error())
	}
	// The errnos reference/vmm-interface.md names for vmm paths.
	for _, c := range []struct {
		e   Errno
		num int
	}{{EPERM, 1}, {ENOENT, 2}, {EIO, 5}, {ENXIO, 6}, {ENOMEM, 12}, {EFAULT, 14}, {EBUSY, 16},
		{EEXIST, 17}, {EINVAL, 22}, {ENOTTY, 25}, {ERANGE, 34}, {EALREADY, 37}} {
		if int(c.e) != c.num {
			t.Errorf("%s = %d, want %d", c.e.Name(), c.e, c.num)
		}
	}
}

func TestErrnoUnknown(t *testing.T) {
	for _, c := range []struct {
		e    Errno
		text string
		name string
	}{
		{0, "No error: 0", "Errno(0)"},
		{97, "Unknown error: 97", "Errno(97)"}, // EINTEGRITY is FreeBSD 13+
		{-1, "Unknown error: -1", "Errno(-1)"},
		{1 << 30, "Unknown error: 1073741824", "Errno(1073741824)"},
		{-1 << 31, "Unknown error: -2147483648", "Errno(-2147483648)"},
	} {
		if got := c.e.Error(); got != c.text {
			t.Errorf("Errno(%d).Error() = %q, want %q", int(c.e), got, c.text)
		}
		if got := c.e.Name(); got != c.name {
			t.Errorf("Errno(%d).Name() = %q, want %q", int(c.e), got, c.name)
		}
	}
}

func TestErrnoAsError(t *testing.T) {
	var err error = fmt.Errorf("vm_run: %w", EINVAL)
	var e Errno
	if !errors.As(err, &e) || e != EINVAL || !errors.Is(err, EINVAL) {
		t.Errorf("wrapped Errno not recoverable: %v", err)
	}
}
