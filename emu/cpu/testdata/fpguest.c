/*
 * fpguest.c: floating-point and vectorised C for the interpreter tests,
 * built with gcc -O2 WITHOUT -mgeneral-regs-only (see Makefile): doubles
 * and floats in SSE2 registers, long double on the x87, and loops gcc
 * vectorises. The same file is built for the host (-DHOST, output to
 * stdout) and its output committed as fpguest.expected; TestFPGuest runs
 * the guest builds and compares their COM1 output with it byte for byte.
 */
typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef int i32;
typedef unsigned char u8;
typedef short i16;

#ifdef HOST
#include <stdio.h>
static void putch(char c) { putchar(c); }
#else
static inline void putch(char c) { __asm__ volatile("outb %0, %1" : : "a"(c), "Nd"((unsigned short)0x3f8)); }
void *memset(void *d, int c, u64 n) { u8 *p = d; while (n--) *p++ = (u8)c; return d; }
void *memcpy(void *d, const void *s, u64 n) { u8 *p = d; const u8 *q = s; while (n--) *p++ = *q++; return d; }
#endif

static void puts_(const char *s) { while (*s) putch(*s++); }
static void putx(u64 v, int digits) {
	for (int i = digits - 1; i >= 0; i--) putch("0123456789abcdef"[(v >> (4 * i)) & 15]);
}
static void putu(u64 v) {
	char buf[24];
	int i = 23;
	buf[i] = 0;
	do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v);
	puts_(buf + i);
}
static void puti(i64 v) { if (v < 0) { putch('-'); putu((u64)-v); } else putu((u64)v); }
static void putd(const char *name, double d) {
	union { double d; u64 u; } x = {d};
	puts_(name); putch(' '); putx(x.u, 16); putch(' '); puti((i64)(d * 1000.0)); putch('\n');
}
static void putf(const char *name, float f) {
	union { float f; u32 u; } x = {f};
	puts_(name); putch(' '); putx(x.u, 8); putch('\n');
}
static void putld(const char *name, long double d) {
	union { long double d; struct { u64 m; unsigned short se; } p; } x;
	x.d = d;
	puts_(name); putch(' '); putx(x.p.se, 4); putch(':'); putx(x.p.m, 16); putch('\n');
}

static u64 seed = 424242;
static u32 rnd(void) { seed = seed * 6364136223846793005UL + 1442695040888963407UL; return (u32)(seed >> 33); }

#define N 1000
static double da[N], db[N];
static float fa[N], fb[N], fc[N];
static i32 ia[N], ib[N];
static i16 sa[N], sb[N];
static u8 ba[4096];

/* volatile keeps gcc from folding the inputs at compile time */
static volatile double vin[4] = {1.5, -2.25, 3.0e10, 1e-300};

__attribute__((noinline)) static double newton_sqrt(double x) {
	double r = x > 1 ? x / 2 : 1;
	for (int i = 0; i < 60; i++) r = 0.5 * (r + x / r);
	return r;
}

__attribute__((noinline)) static double horner(const double *c, int n, double x) {
	double r = 0;
	for (int i = n - 1; i >= 0; i--) r = r * x + c[i];
	return r;
}

__attribute__((noinline)) static void saxpy(float *y, const float *x, float a, int n) {
	for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
}

__attribute__((noinline)) static i64 dot_i32(const i32 *a, const i32 *b, int n) {
	i64 s = 0;
	for (int i = 0; i < n; i++) s += (i64)a[i] * b[i];
	return s;
}

__attribute__((noinline)) static i32 maxabs(const i32 *a, int n) {
	i32 m = 0;
	for (int i = 0; i < n; i++) { i32 v = a[i] < 0 ? -a[i] : a[i]; m = v > m ? v : m; }
	return m;
}

__attribute__((noinline)) static int count_eq(const u8 *p, int n, u8 c) {
	int k = 0;
	for (int i = 0; i < n; i++) k += p[i] == c;
	return k;
}

__attribute__((noinline)) static void mix16(i16 *d, const i16 *s, int n) {
	for (int i = 0; i < n; i++) { int v = d[i] * 3 + s[i] - (s[i] >> 2); d[i] = (i16)(v > 32767 ? 32767 : v < -32768 ? -32768 : v); }
}

__attribute__((noinline)) static double dsum(const double *a, int n) {
	double s = 0;
	for (int i = 0; i < n; i++) s += a[i] * a[i];
	return s;
}

__attribute__((noinline)) static float fmin_arr(const float *a, int n) {
	float m = a[0];
	for (int i = 1; i < n; i++) m = a[i] < m ? a[i] : m;
	return m;
}

__attribute__((noinline)) static long double lfact(int n) {
	long double r = 1;
	for (int i = 2; i <= n; i++) r *= i;
	return r;
}

void cmain(void) {
	for (int i = 0; i < N; i++) {
		da[i] = (double)(i32)rnd() / 65536.0;
		db[i] = (double)(rnd() & 0xffff) / 7.0;
		fa[i] = (float)(i32)(rnd() >> 8) / 1024.0f;
		fb[i] = (float)(rnd() & 0xfff) * 0.125f;
		ia[i] = (i32)rnd() >> 12;
		ib[i] = (i32)rnd() >> 10;
		sa[i] = (i16)rnd();
		sb[i] = (i16)rnd();
	}
	for (int i = 0; i < 4096; i++) ba[i] = (u8)(rnd() % 7);

	double x = vin[0], y = vin[1], big = vin[2], tiny = vin[3];
	putd("add", x + y);
	putd("mul", x * y * big);
	putd("div", x / y);
	putd("sqrt", __builtin_sqrt(big));
	putd("newton", newton_sqrt(big));
	putd("tiny", tiny * tiny * 1e300);
	putd("cvt", (double)(i64)(big * 3.3));
	puti((i64)(big / x)); putch(' '); puti((i32)(y * 1000.5)); putch(' '); putu((u64)(big * 1e8)); putch('\n');
	static const double coef[6] = {1, -0.5, 1.0 / 24, -1.0 / 720, 1.0 / 40320, -1.0 / 3628800};
	putd("horner", horner(coef, 6, 0.7 * 0.7));
	putd("dsum", dsum(da, N));
	double mn = da[0], mx = da[0];
	for (int i = 0; i < N; i++) { mn = da[i] < mn ? da[i] : mn; mx = da[i] > mx ? da[i] : mx; }
	putd("min", mn); putd("max", mx);
	int cmp = 0;
	for (int i = 0; i < N; i++) cmp += da[i] < db[i];
	puts_("cmp "); puti(cmp); putch('\n');

	saxpy(fb, fa, 1.75f, N);
	float fs = 0;
	for (int i = 0; i < N; i++) fs += fb[i];
	putf("saxpy", fs);
	putf("fmin", fmin_arr(fa, N));
	for (int i = 0; i < N; i++) fc[i] = (float)da[i] * 0.5f - (float)(ia[i] & 1023);
	putf("fc", fc[17] + fc[999]);
	putf("fdiv", (float)x / (float)y);

	puts_("dot "); puti(dot_i32(ia, ib, N)); putch('\n');
	puts_("maxabs "); puti(maxabs(ib, N)); putch('\n');
	puts_("count "); puti(count_eq(ba, 4096, 3)); putch('\n');
	mix16(sa, sb, N);
	i64 s16 = 0;
	for (int i = 0; i < N; i++) s16 = s16 * 31 + sa[i];
	puts_("mix16 "); puti(s16); putch('\n');
	u32 h = 0;
	for (int i = 0; i < 4096; i++) h = (h ^ ba[i]) * 16777619u;
	puts_("hash "); putu(h); putch('\n');

	putld("lfact", lfact(25));
	long double l = x;
	putld("lsqrt", __builtin_sqrtl(l * 1e10L));
	putld("ldiv", (long double)big / 3.0L);
	putd("l2d", (double)(lfact(20) / 7.0L));
	puts_("l2i "); puti((i64)(lfact(19) / 3.0L)); putch('\n');
}

#ifdef HOST
int main(void) { cmain(); return 0; }
#endif
