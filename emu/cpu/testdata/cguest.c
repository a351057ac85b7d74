/*
 * cguest.c: a freestanding C guest for the interpreter tests, built with
 * gcc -O2 -mgeneral-regs-only (see Makefile). It prints its results to
 * COM1 (port 0x3f8) and halts; cguest_test.go recomputes every line in Go.
 */
typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef unsigned char u8;

static inline void outb(unsigned short port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }

static void puts_(const char *s) { while (*s) outb(0x3f8, (u8)*s++); }

static void putu(u64 v) {
	char buf[24];
	int i = 23;
	buf[i] = 0;
	do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
	puts_(buf + i);
}

static void puti(i64 v) {
	if (v < 0) { outb(0x3f8, '-'); putu((u64)-v); } else putu((u64)v);
}

void *memset(void *d, int c, u64 n) { u8 *p = d; while (n--) *p++ = (u8)c; return d; }
void *memcpy(void *d, const void *s, u64 n) { u8 *p = d; const u8 *q = s; while (n--) *p++ = *q++; return d; }

static u64 seed = 12345;
static u64 rnd(void) { seed = seed * 6364136223846793005UL + 1442695040888963407UL; return seed >> 33; }

static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static i64 arr[64];

static void isort(i64 *a, int n) {
	for (int i = 1; i < n; i++) {
		i64 v = a[i];
		int j = i - 1;
		while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; }
		a[j + 1] = v;
	}
}

static const char *names[] = {"zero", "one", "two", "three", "four", "five", "six", "seven"};

static int classify(u32 x) {
	switch (x & 7) {
	case 0: return 10;
	case 1: return 21;
	case 2: return 32;
	case 3: return 43;
	case 4: return 54;
	case 5: return 65;
	case 6: return 76;
	default: return 87;
	}
}

volatile i64 vdiv[4] = {-1000000007, 37, 1L << 40, -3};

void cmain(void) {
	puts_("fib ");
	putu((u64)fib(25));
	puts_("\n");

	for (int i = 0; i < 64; i++) arr[i] = (i64)rnd() - (1L << 30);
	isort(arr, 64);
	int ok = 1;
	u64 sum = 0;
	for (int i = 0; i < 64; i++) {
		if (i && arr[i - 1] > arr[i]) ok = 0;
		sum = sum * 31 + (u64)arr[i];
	}
	puts_("sort ");
	putu((u64)ok);
	puts_(" ");
	putu(sum);
	puts_("\n");

	puts_("div ");
	puti(vdiv[0] / vdiv[1]);
	puts_(" ");
	puti(vdiv[0] % vdiv[1]);
	puts_(" ");
	putu((u64)vdiv[2] / (u64)vdiv[1]);
	puts_(" ");
	puti(vdiv[2] / vdiv[3]);
	puts_("\n");

	int cs = 0;
	for (u32 i = 0; i < 100; i++) cs += classify(i * 2654435761u);
	puts_("switch ");
	puti(cs);
	puts_(" ");
	puts_(names[cs & 7]);
	puts_("\n");

	char buf[32];
	memset(buf, 'x', sizeof buf);
	memcpy(buf + 4, "copy", 4);
	buf[10] = 0;
	puts_(buf);
	puts_("\n");
}
