//go:build !noasm

#include "textflag.h"
#include "neon_arm64.h"

// DOT_TO_F0 computes the inner product over len(a) elements into F0: 16
// per main-loop iteration (four accumulators of 4 lanes), then one 8- and
// one 4-element step, a horizontal sum, and the last 0..3 elements one at
// a time. It is a macro so that dotNEON and ipDistNEON share one body
// without a call between them.
#define DOT_TO_F0 \
	MOVD a_base+0(FP), R0; \
	MOVD a_len+8(FP), R2; \
	MOVD b_base+24(FP), R1; \
	ZERO_ACC; \
	SUBS $16, R2, R2; \
	BLT  tail; \
loop16: \
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]; \
	VLD1.P 64(R1), [V16.S4, V17.S4, V18.S4, V19.S4]; \
	VFMLA  V16.S4, V4.S4, V0.S4; \
	VFMLA  V17.S4, V5.S4, V1.S4; \
	VFMLA  V18.S4, V6.S4, V2.S4; \
	VFMLA  V19.S4, V7.S4, V3.S4; \
	SUBS   $16, R2, R2; \
	BGE    loop16; \
tail: \
	ADD $16, R2, R2; \
	CMP $8, R2; \
	BLT tail4; \
	VLD1.P 32(R0), [V4.S4, V5.S4]; \
	VLD1.P 32(R1), [V16.S4, V17.S4]; \
	VFMLA  V16.S4, V4.S4, V0.S4; \
	VFMLA  V17.S4, V5.S4, V1.S4; \
	SUB    $8, R2, R2; \
tail4: \
	CMP $4, R2; \
	BLT reduce; \
	VLD1.P 16(R0), [V4.S4]; \
	VLD1.P 16(R1), [V16.S4]; \
	VFMLA  V16.S4, V4.S4, V2.S4; \
	SUB    $4, R2, R2; \
reduce: \
	HSUM_TO_F0; \
	CBZ R2, done; \
scalar: \
	FMOVS.P 4(R0), F4; \
	FMOVS.P 4(R1), F16; \
	FMADDS  F16, F0, F4, F0; \
	SUBS    $1, R2, R2; \
	BNE     scalar; \
done:

// func dotNEON(a, b []float32) float32
TEXT ·dotNEON(SB), NOSPLIT, $0-52
	DOT_TO_F0
	FMOVS F0, ret+48(FP)
	RET

// func ipDistNEON(a, b []float32) float32
//
// 1 - dot(a, b).
TEXT ·ipDistNEON(SB), NOSPLIT, $0-52
	DOT_TO_F0
	FMOVS $(1.0), F1
	FSUBS F0, F1, F0 // F0 = 1 - F0
	FMOVS F0, ret+48(FP)
	RET
