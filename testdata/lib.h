/*
 * The few output routines the C guests use. In the guest they are lib.c over
 * COM1 (serial.S); in the host oracle build (make hello.out) they are
 * host_shim.c over stdio, so the expected output never depends on our own
 * printf.
 */
#ifndef SOFTVMM_TESTDATA_LIB_H
#define SOFTVMM_TESTDATA_LIB_H

#include <stddef.h>

/* kputs writes s without adding a newline, like fputs(s, stdout). */
void kputs(const char *s);
/*
 * kprintf understands %d %i %u %x %X %s %c %% with an optional 'l' length,
 * '-' and '0' flags and a decimal width: a subset of printf(3) with the same
 * meaning.
 */
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
