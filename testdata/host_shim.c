/*
 * Host build of the C guests' output routines over stdio (make hello.out):
 * the native run of the same hello.c is the oracle for the guest's output.
 */
#include <stdarg.h>
#include <stdio.h>
#include "lib.h"

void kputs(const char *s)
{
	fputs(s, stdout);
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}
