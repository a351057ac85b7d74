// Code written from FreeBSD 12 sys/sys/errno.h and lib/libc/gen/errlst.c (facts only).
//
// Verified (numbers and texts, 0-96) against freebsd/freebsd-src
// lib/libc/gen/errlst.c @039ea811 (entries 0-93) and sys/sys/errno.h
// @01ca612a (1-87), and, for ENOTCAPABLE..EOWNERDEAD (93-96), against the
// freebsd-src fork fel1x-developer/freebsd-src lib/libc/gen/errlst.c
// @2d614aa2 and its sys/sys/errno.h, whose only addition past 96 is
// EINTEGRITY 97 (FreeBSD 13), left out here. See errno_test.go.

package abi

import "strconv"

// Errno is a FreeBSD errno value. Its numbers are FreeBSD's, not Linux's
// (EAGAIN is 35 here), and Error returns FreeBSD's strerror(3) text, so a
// message printed by softvmm reads as it would on FreeBSD.
type Errno int32

// FreeBSD 12 errno values (sys/sys/errno.h). ELAST is EOWNERDEAD on 12.
const (
	EPERM           Errno = 1
	ENOENT          Errno = 2
	ESRCH           Errno = 3
	EINTR           Errno = 4
	EIO             Errno = 5
	ENXIO           Errno = 6
	E2BIG           Errno = 7
	ENOEXEC         Errno = 8
	EBADF           Errno = 9
	ECHILD          Errno = 10
	EDEADLK         Errno = 11
	ENOMEM          Errno = 12
	EACCES          Errno = 13
	EFAULT          Errno = 14
	ENOTBLK         Errno = 15
	EBUSY           Errno = 16
	EEXIST          Errno = 17
	EXDEV           Errno = 18
	ENODEV          Errno = 19
	ENOTDIR         Errno = 20
	EISDIR          Errno = 21
	EINVAL          Errno = 22
	ENFILE          Errno = 23
	EMFILE          Errno = 24
	ENOTTY          Errno = 25
	ETXTBSY         Errno = 26
	EFBIG           Errno = 27
	ENOSPC          Errno = 28
	ESPIPE          Errno = 29
	EROFS           Errno = 30
	EMLINK          Errno = 31
	EPIPE           Errno = 32
	EDOM            Errno = 33
	ERANGE          Errno = 34
	EAGAIN          Errno = 35
	EINPROGRESS     Errno = 36
	EALREADY        Errno = 37
	ENOTSOCK        Errno = 38
	EDESTADDRREQ    Errno = 39
	EMSGSIZE        Errno = 40
	EPROTOTYPE      Errno = 41
	ENOPROTOOPT     Errno = 42
	EPROTONOSUPPORT Errno = 43
	ESOCKTNOSUPPORT Errno = 44
	EOPNOTSUPP      Errno = 45
	EPFNOSUPPORT    Errno = 46
	EAFNOSUPPORT    Errno = 47
	EADDRINUSE      Errno = 48
	EADDRNOTAVAIL   Errno = 49
	ENETDOWN        Errno = 50
	ENETUNREACH     Errno = 51
	ENETRESET       Errno = 52
	ECONNABORTED    Errno = 53
	ECONNRESET      Errno = 54
	ENOBUFS         Errno = 55
	EISCONN         Errno = 56
	ENOTCONN        Errno = 57
	ESHUTDOWN       Errno = 58
	ETOOMANYREFS    Errno = 59
	ETIMEDOUT       Errno = 60
	ECONNREFUSED    Errno = 61
	ELOOP           Errno = 62
	ENAMETOOLONG    Errno = 63
	EHOSTDOWN       Errno = 64
	EHOSTUNREACH    Errno = 65
	ENOTEMPTY       Errno = 66
	EPROCLIM        Errno = 67
	EUSERS          Errno = 68
	EDQUOT          Errno = 69
	ESTALE          Errno = 70
	EREMOTE         Errno = 71
	EBADRPC         Errno = 72
	ERPCMISMATCH    Errno = 73
	EPROGUNAVAIL    Errno = 74
	EPROGMISMATCH   Errno = 75
	EPROCUNAVAIL    Errno = 76
	ENOLCK          Errno = 77
	ENOSYS          Errno = 78
	EFTYPE          Errno = 79
	EAUTH           Errno = 80
	ENEEDAUTH       Errno = 81
	EIDRM           Errno = 82
	ENOMSG          Errno = 83
	EOVERFLOW       Errno = 84
	ECANCELED       Errno = 85
	EILSEQ          Errno = 86
	ENOATTR         Errno = 87
	EDOOFUS         Errno = 88
	EBADMSG         Errno = 89
	EMULTIHOP       Errno = 90
	ENOLINK         Errno = 91
	EPROTO          Errno = 92
	ENOTCAPABLE     Errno = 93
	ECAPMODE        Errno = 94
	ENOTRECOVERABLE Errno = 95
	EOWNERDEAD      Errno = 96
	ELAST                 = EOWNERDEAD

	EWOULDBLOCK = EAGAIN     // same number, as in FreeBSD
	ENOTSUP     = EOPNOTSUPP // same number, as in FreeBSD
)

// errText is FreeBSD's sys_errlist, indexed by errno.
var errText = [...]string{
	0:               "No error: 0",
	EPERM:           "Operation not permitted",
	ENOENT:          "No such file or directory",
	ESRCH:           "No such process",
	EINTR:           "Interrupted system call",
	EIO:             "Input/output error",
	ENXIO:           "Device not configured",
	E2BIG:           "Argument list too long",
	ENOEXEC:         "Exec format error",
	EBADF:           "Bad file descriptor",
	ECHILD:          "No child processes",
	EDEADLK:         "Resource deadlock avoided",
	ENOMEM:          "Cannot allocate memory",
	EACCES:          "Permission denied",
	EFAULT:          "Bad address",
	ENOTBLK:         "Block device required",
	EBUSY:           "Device busy",
	EEXIST:          "File exists",
	EXDEV:           "Cross-device link",
	ENODEV:          "Operation not supported by device",
	ENOTDIR:         "Not a directory",
	EISDIR:          "Is a directory",
	EINVAL:          "Invalid argument",
	ENFILE:          "Too many open files in system",
	EMFILE:          "Too many open files",
	ENOTTY:          "Inappropriate ioctl for device",
	ETXTBSY:         "Text file busy",
	EFBIG:           "File too large",
	ENOSPC:          "No space left on device",
	ESPIPE:          "Illegal seek",
	EROFS:           "Read-only file system",
	EMLINK:          "Too many links",
	EPIPE:           "Broken pipe",
	EDOM:            "Numerical argument out of domain",
	ERANGE:          "Result too large",
	EAGAIN:          "Resource temporarily unavailable",
	EINPROGRESS:     "Operation now in progress",
	EALREADY:        "Operation already in progress",
	ENOTSOCK:        "Socket operation on non-socket",
	EDESTADDRREQ:    "Destination address required",
	EMSGSIZE:        "Message too long",
	EPROTOTYPE:      "Protocol wrong type for socket",
	ENOPROTOOPT:     "Protocol not available",
	EPROTONOSUPPORT: "Protocol not supported",
	ESOCKTNOSUPPORT: "Socket type not supported",
	EOPNOTSUPP:      "Operation not supported",
	EPFNOSUPPORT:    "Protocol family not supported",
	EAFNOSUPPORT:    "Address family not supported by protocol family",
	EADDRINUSE:      "Address already in use",
	EADDRNOTAVAIL:   "Can't assign requested address",
	ENETDOWN:        "Network is down",
	ENETUNREACH:     "Network is unreachable",
	ENETRESET:       "Network dropped connection on reset",
	ECONNABORTED:    "Software caused connection abort",
	ECONNRESET:      "Connection reset by peer",
	ENOBUFS:         "No buffer space available",
	EISCONN:         "Socket is already connected",
	ENOTCONN:        "Socket is not connected",
	ESHUTDOWN:       "Can't send after socket shutdown",
	ETOOMANYREFS:    "Too many references: can't splice",
	ETIMEDOUT:       "Operation timed out",
	ECONNREFUSED:    "Connection refused",
	ELOOP:           "Too many levels of symbolic links",
	ENAMETOOLONG:    "File name too long",
	EHOSTDOWN:       "Host is down",
	EHOSTUNREACH:    "No route to host",
	ENOTEMPTY:       "Directory not empty",
	EPROCLIM:        "Too many processes",
	EUSERS:          "Too many users",
	EDQUOT:          "Disc quota exceeded",
	ESTALE:          "Stale NFS file handle",
	EREMOTE:         "Too many levels of remote in path",
	EBADRPC:         "RPC struct is bad",
	ERPCMISMATCH:    "RPC version wrong",
	EPROGUNAVAIL:    "RPC prog. not avail",
	EPROGMISMATCH:   "Program version wrong",
	EPROCUNAVAIL:    "Bad procedure for program",
	ENOLCK:          "No locks available",
	ENOSYS:          "Function not implemented",
	EFTYPE:          "Inappropriate file type or format",
	EAUTH:           "Authentication error",
	ENEEDAUTH:       "Need authenticator",
	EIDRM:           "Identifier removed",
	ENOMSG:          "No message of desired type",
	EOVERFLOW:       "Value too large to be stored in data type",
	ECANCELED:       "Operation canceled",
	EILSEQ:          "Illegal byte sequence",
	ENOATTR:         "Attribute not found",
	EDOOFUS:         "Programming error",
	EBADMSG:         "Bad message",
	EMULTIHOP:       "Multihop attempted",
	ENOLINK:         "Link has been severed",
	EPROTO:          "Protocol error",
	ENOTCAPABLE:     "Capabilities insufficient",
	ECAPMODE:        "Not permitted in capability mode",
	ENOTRECOVERABLE: "State not recoverable",
	EOWNERDEAD:      "Previous owner died",
}

// Error returns the strerror(3) text FreeBSD's libc prints for e.
func (e Errno) Error() string {
	if e >= 0 && int(e) < len(errText) {
		return errText[e]
	}
	return "Unknown error: " + itoa(int(e))
}

var errName = [...]string{
	"", "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG",
	"ENOEXEC", "EBADF", "ECHILD", "EDEADLK", "ENOMEM", "EACCES", "EFAULT",
	"ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV", "ENOTDIR", "EISDIR",
	"EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC",
	"ESPIPE", "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EAGAIN",
	"EINPROGRESS", "EALREADY", "ENOTSOCK", "EDESTADDRREQ", "EMSGSIZE",
	"EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT", "ESOCKTNOSUPPORT",
	"EOPNOTSUPP", "EPFNOSUPPORT", "EAFNOSUPPORT", "EADDRINUSE",
	"EADDRNOTAVAIL", "ENETDOWN", "ENETUNREACH", "ENETRESET", "ECONNABORTED",
	"ECONNRESET", "ENOBUFS", "EISCONN", "ENOTCONN", "ESHUTDOWN",
	"ETOOMANYREFS", "ETIMEDOUT", "ECONNREFUSED", "ELOOP", "ENAMETOOLONG",
	"EHOSTDOWN", "EHOSTUNREACH", "ENOTEMPTY", "EPROCLIM", "EUSERS", "EDQUOT",
	"ESTALE", "EREMOTE", "EBADRPC", "ERPCMISMATCH", "EPROGUNAVAIL",
	"EPROGMISMATCH", "EPROCUNAVAIL", "ENOLCK", "ENOSYS", "EFTYPE", "EAUTH",
	"ENEEDAUTH", "EIDRM", "ENOMSG", "EOVERFLOW", "ECANCELED", "EILSEQ",
	"ENOATTR", "EDOOFUS", "EBADMSG", "EMULTIHOP", "ENOLINK", "EPROTO",
	"ENOTCAPABLE", "ECAPMODE", "ENOTRECOVERABLE", "EOWNERDEAD",
}

// Name returns the errno's symbolic name ("EINVAL"), for logs and test
// failures; numbers FreeBSD 12 does not define give "Errno(n)".
func (e Errno) Name() string {
	if e > 0 && int(e) < len(errName) {
		return errName[e]
	}
	return "Errno(" + itoa(int(e)) + ")"
}

func itoa(v int) string { return strconv.Itoa(v) }
