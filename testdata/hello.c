/*
 * hello.elf: a gcc -O2 C guest that exercises compiled code of the usual
 * kinds: 64-bit and 128-bit multiply, signed and unsigned divide, a sieve,
 * Fibonacci, string reversal, a qsort-style sort through a comparator
 * pointer, a switch, and byte loops that gcc may turn into string
 * instructions. Inputs come through volatile objects so the work happens at
 * run time, not in the compiler.
 *
 * The same file built for the host with host_shim.c (make hello.out) is the
 * oracle: its output is hello.out, and the guest must print exactly that.
 */
#include <stddef.h>
#include "lib.h"

static volatile unsigned long in_a = 0x0123456789abcdefUL;
static volatile unsigned long in_b = 0xfedcba9876543210UL;
static volatile long in_neg = -1234567890123L;
static volatile int in_n = 25;
static volatile int in_m = -100;
static volatile unsigned in_seed = 2463534242u;

static void arith(void)
{
	unsigned long a = in_a, b = in_b;
	long s = in_neg;
	int m = in_m;
	unsigned __int128 wide = (unsigned __int128)a * b;

	kprintf("arith: a*b = 0x%lx (high 0x%lx)\n", a * b, (unsigned long)(wide >> 64));
	kprintf("arith: a/1000003 = %lu, a%%1000003 = %lu\n", a / 1000003, a % 1000003);
	kprintf("arith: b/a = %lu, b%%a = 0x%lx\n", b / a, b % a);
	kprintf("arith: %ld/97 = %ld, %ld%%97 = %ld\n", s, s / 97, s, s % 97);
	kprintf("arith: %d/7 = %d, %d%%7 = %d\n", m, m / 7, m, m % 7);
	kprintf("arith: b>>13 = 0x%lx, (long)b>>13 = %ld, a<<9 = 0x%lx\n",
		b >> 13, (long)b >> 13, a << 9);
}

static void primes(void)
{
	static unsigned char composite[10000];
	int n = in_n, count = 0, total = 0;

	for (int i = 2; i < 10000; i++) {
		if (composite[i])
			continue;
		total++;
		for (int j = i * i; j < 10000; j += i)
			composite[j] = 1;
	}
	kputs("primes:");
	for (int i = 2; count < n; i++) {
		if (!composite[i]) {
			kprintf(" %d", i);
			count++;
		}
	}
	kprintf("\nprimes: %d below 10000\n", total);
}

static void fib(void)
{
	unsigned long x = 0, y = 1;
	int n = in_n;

	kputs("fib:");
	for (int i = 0; i < 91; i++) {
		if (i < n - 9)
			kprintf(" %lu", x);
		if (i == 90)
			kprintf("\nfib: F(90) = %lu\n", x);
		unsigned long t = x + y;
		x = y;
		y = t;
	}
}

static void reverse(char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	for (size_t i = 0, j = n ? n - 1 : 0; i < j; i++, j--) {
		char t = s[i];
		s[i] = s[j];
		s[j] = t;
	}
}

static void strings(void)
{
	char buf[] = "softvmm interprets x86-64";

	reverse(buf);
	kprintf("reverse: \"%s\"\n", buf);
	reverse(buf);
	kprintf("reverse twice: \"%s\"\n", buf);
}

struct rec {
	const char *name;
	int score;
	unsigned id;
};

static void swap(void *a, void *b, size_t size)
{
	unsigned char *p = a, *q = b;

	while (size--) {
		unsigned char t = *p;
		*p++ = *q;
		*q++ = t;
	}
}

/* ksort is qsort(3)'s interface over a plain quicksort (Lomuto partition). */
static void ksort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	unsigned char *b = base;

	while (n > 1) {
		unsigned char *pivot = b + (n - 1) * size;
		size_t store = 0;

		for (size_t i = 0; i + 1 < n; i++) {
			if (cmp(b + i * size, pivot) < 0) {
				swap(b + i * size, b + store * size, size);
				store++;
			}
		}
		swap(b + store * size, pivot, size);
		ksort(b, store, size, cmp);
		b += (store + 1) * size;
		n -= store + 1;
	}
}

static int strcmp_(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

static int by_score_then_name(const void *x, const void *y)
{
	const struct rec *a = x, *b = y;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	return strcmp_(a->name, b->name);
}

static int by_u32(const void *x, const void *y)
{
	unsigned a = *(const unsigned *)x, b = *(const unsigned *)y;

	return a < b ? -1 : a > b;
}

static void sorting(void)
{
	struct rec recs[] = {
		{"pit", 42, 1}, {"lapic", 97, 2}, {"hpet", 42, 3}, {"rtc", -5, 4},
		{"ioapic", 97, 5}, {"atpic", 0, 6}, {"uart", 64, 7}, {"pmtimer", 13, 8},
	};
	size_t n = sizeof recs / sizeof recs[0];
	unsigned v[16], x = in_seed;

	ksort(recs, n, sizeof recs[0], by_score_then_name);
	kputs("sort:");
	for (size_t i = 0; i < n; i++)
		kprintf(" %s=%d", recs[i].name, recs[i].score);
	kputs("\n");

	for (int i = 0; i < 16; i++) { /* xorshift32 */
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		v[i] = x % 1000;
	}
	ksort(v, 16, sizeof v[0], by_u32);
	kputs("sort:");
	for (int i = 0; i < 16; i++)
		kprintf(" %u", v[i]);
	kputs("\n");
}

struct block {
	unsigned long words[64];
};

static struct block blk_a, blk_b;

static void memory(void)
{
	unsigned char src[300], dst[300];
	unsigned long sum = 0;
	unsigned n = (unsigned)in_n * 12; /* 300 */

	for (unsigned i = 0; i < n; i++)
		dst[i] = 0xAA;
	for (unsigned i = 0; i < n; i++)
		src[i] = (unsigned char)(i * 7 + 3);
	for (unsigned i = 0; i < n; i++)
		dst[i] = src[i];
	for (unsigned i = 0; i < n; i++)
		sum = sum * 31 + dst[i];
	kprintf("memory: copied %u bytes, hash 0x%016lx\n", n, sum);

	for (int i = 0; i < 64; i++)
		blk_a.words[i] = in_a ^ (unsigned long)i;
	blk_b = blk_a; /* a 512-byte struct copy */
	sum = 0;
	for (int i = 0; i < 64; i++)
		sum += blk_b.words[i] >> 3;
	kprintf("memory: struct copy sum 0x%lx\n", sum);
}

static const char *classify(int c)
{
	switch (c) {
	case 0: return "zero";
	case 1: return "one";
	case 2: return "two";
	case 3: return "three";
	case 5: return "five";
	case 8: return "eight";
	case 13: return "thirteen";
	default: return c < 0 ? "negative" : "other";
	}
}

static void switches(void)
{
	kputs("switch:");
	for (int i = -1; i < in_n - 11; i++)
		kprintf(" %s", classify(i));
	kputs("\n");
	kprintf("format: [%5d] [%-5d] [%05d] [%x] [%X] [%c] [%s] [%08x] [%u]\n",
		42, 42, -42, 0xbeef, 0xbeef, 'Z', "str", 0x1234u, 4000000000u);
}

int main(void)
{
	kputs("hello: softvmm C guest (gcc -O2, freestanding)\n");
	arith();
	primes();
	fib();
	strings();
	sorting();
	memory();
	switches();
	kputs("hello: done\n");
	return 0;
}
