fadd %st(1),%st
fadd %st(3),%st
fadd %st,%st(2)
faddp %st,%st(1)
fadds 0x4(%rsi)
faddl 0x8(%rsi)
fiaddl 0x4(%rsi)
fiadds 0x2(%rsi)
fmul %st(1),%st
fmul %st(3),%st
fmul %st,%st(2)
fmulp %st,%st(1)
fmuls 0x4(%rsi)
fmull 0x8(%rsi)
fimull 0x4(%rsi)
fimuls 0x2(%rsi)
fsub %st(1),%st
fsub %st(3),%st
fsub %st,%st(2)
fsubp %st,%st(1)
fsubs 0x4(%rsi)
fsubl 0x8(%rsi)
fisubl 0x4(%rsi)
fisubs 0x2(%rsi)
fsubr %st(1),%st
fsubr %st(3),%st
fsubr %st,%st(2)
fsubrp %st,%st(1)
fsubrs 0x4(%rsi)
fsubrl 0x8(%rsi)
fisubrl 0x4(%rsi)
fisubrs 0x2(%rsi)
fdiv %st(1),%st
fdiv %st(3),%st
fdiv %st,%st(2)
fdivp %st,%st(1)
fdivs 0x4(%rsi)
fdivl 0x8(%rsi)
fidivl 0x4(%rsi)
fidivs 0x2(%rsi)
fdivr %st(1),%st
fdivr %st(3),%st
fdivr %st,%st(2)
fdivrp %st,%st(1)
fdivrs 0x4(%rsi)
fdivrl 0x8(%rsi)
fidivrl 0x4(%rsi)
fidivrs 0x2(%rsi)
fcom %st(1)
fcomp %st(2)
fcompp
fucom %st(1)
fucomp %st(3)
fucompp
fcoms 0x4(%rsi)
fcompl 0x8(%rsi)
ficoml 0x4(%rsi)
ficomps 0x2(%rsi)
fcomi %st(1),%st
fucomi %st(2),%st
fcomip %st(1),%st
fucomip %st(3),%st
ftst
fxam
flds 0x4(%rsi)
fldl 0x8(%rsi)
fldt 0x10(%rsi)
filds 0x2(%rsi)
fildl 0x4(%rsi)
fildll 0x8(%rsi)
fbld 0x10(%rsi)
fld %st(3)
fsts 0x4(%rsi)
fstps 0x4(%rsi)
fstl 0x8(%rsi)
fstpl 0x8(%rsi)
fstpt 0x10(%rsi)
fists 0x2(%rsi)
fistl 0x4(%rsi)
fistps 0x2(%rsi)
fistpl 0x4(%rsi)
fistpll 0x8(%rsi)
fisttps 0x2(%rsi)
fisttpl 0x4(%rsi)
fisttpll 0x8(%rsi)
fbstp 0x10(%rsi)
fst %st(2)
fstp %st(3)
fchs
fabs
fld1
fldz
fldpi
fldl2e
fldl2t
fldlg2
fldln2
fxch %st(1)
fxch %st(5)
ffree %st(2)
fincstp
fdecstp
fnop
fsqrt
frndint
fscale
fxtract
fprem
fprem1
f2xm1
fyl2x
fyl2xp1
fpatan
fptan
fsin
fcos
fsincos
fcmovb %st(1),%st
fcmove %st(2),%st
fcmovbe %st(1),%st
fcmovu %st(1),%st
fcmovnb %st(1),%st
fcmovne %st(2),%st
fcmovnbe %st(1),%st
fcmovnu %st(1),%st
fnstsw %ax
fnstsw 0x2(%rsi)
fnstcw 0x2(%rsi)
fldcw 0x2(%rsi)
fninit
fnclex
fnstenv 0x10(%rsi)
fldenv 0x10(%rsi)
fnsave 0x10(%rsi)
frstor 0x10(%rsi)
data16 fnstenv 0x10(%rsi)
data16 fldenv 0x10(%rsi)
.byte 0x66, 0xdd, 0x76, 0x10
data16 frstor 0x10(%rsi)
# the memory compares of the other widths, and FFREEP (isa-coverage rows)
fcoml 0x8(%rsi)
fcomps 0x4(%rsi)
ficoms 0x2(%rsi)
ficompl 0x4(%rsi)
ffreep %st(1)
fwait
