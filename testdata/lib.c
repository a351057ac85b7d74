/*
 * Freestanding support for the C guests: kputs/kprintf over COM1, and the
 * memset/memcpy/memmove/memcmp that gcc may call even with -ffreestanding.
 * The mem* functions are string instructions in inline assembly, so gcc
 * cannot turn them back into calls to themselves.
 */
#include <stdarg.h>
#include <stddef.h>
#include "lib.h"

void serial_putc(int c); /* serial.S */

void kputs(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

static int emit(char c, int n)
{
	serial_putc(c);
	return n + 1;
}

/* utoa writes v in base (10 or 16) backwards into the end of buf. */
static char *utoa(unsigned long v, unsigned base, int upper, char *end)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char *p = end;

	do {
		*--p = digits[v % base];
		v /= base;
	} while (v != 0);
	return p;
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		char buf[24], *s, *end = buf + sizeof buf;
		int left = 0, zero = 0, width = 0, lng = 0, neg = 0, len;
		char pad;

		if (*fmt != '%') {
			n = emit(*fmt, n);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '-')
				left = 1;
			else if (*fmt == '0')
				zero = 1;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == 'l') {
			lng = 1;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			long v = lng ? va_arg(ap, long) : va_arg(ap, int);
			unsigned long u = (unsigned long)v;

			if (v < 0) {
				neg = 1;
				u = -u;
			}
			s = utoa(u, 10, 0, end);
			break;
		}
		case 'u':
			s = utoa(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, 0, end);
			break;
		case 'x':
		case 'X':
			s = utoa(lng ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, *fmt == 'X', end);
			break;
		case 'c':
			buf[0] = (char)va_arg(ap, int);
			s = buf;
			end = buf + 1;
			break;
		case 's':
			s = va_arg(ap, char *);
			for (end = s; *end; end++)
				;
			break;
		case '%':
			n = emit('%', n);
			continue;
		default: /* unknown: print it as is */
			n = emit('%', n);
			if (*fmt == '\0')
				goto out;
			n = emit(*fmt, n);
			continue;
		}
		len = (int)(end - s) + neg;
		pad = (zero && !left) ? '0' : ' ';
		if (neg && pad == '0')
			n = emit('-', n);
		if (!left)
			for (; width > len; width--)
				n = emit(pad, n);
		if (neg && pad == ' ')
			n = emit('-', n);
		while (s < end)
			n = emit(*s++, n);
		for (; width > len; width--)
			n = emit(' ', n);
	}
out:
	va_end(ap);
	return n;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	/* Overlapping with dst above src: copy backwards (DF = 1). */
	d += n - 1;
	s += n - 1;
	__asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n != 0; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}
