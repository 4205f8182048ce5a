//go:build !noasm

#include "textflag.h"
#include "neon_arm64.h"

// func l2NEON(a, b []float32) float32
//
// Squared Euclidean distance over len(a) elements: 16 per main-loop
// iteration (four accumulators of 4 lanes), then one 8- and one 4-element
// step, a horizontal sum, and the last 0..3 elements one at a time.
TEXT ·l2NEON(SB), NOSPLIT, $0-52
	MOVD a_base+0(FP), R0
	MOVD a_len+8(FP), R2
	MOVD b_base+24(FP), R1
	ZERO_ACC

	// R2 counts down by 16; it goes negative when fewer than 16 remain.
	SUBS $16, R2, R2
	BLT  tail

loop16:
	VLD1.P 64(R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R1), [V16.S4, V17.S4, V18.S4, V19.S4]
	WORD   $0x4EB0D484                  // FSUB V4.4S, V4.4S, V16.4S
	WORD   $0x4EB1D4A5                  // FSUB V5.4S, V5.4S, V17.4S
	WORD   $0x4EB2D4C6                  // FSUB V6.4S, V6.4S, V18.4S
	WORD   $0x4EB3D4E7                  // FSUB V7.4S, V7.4S, V19.4S
	VFMLA  V4.S4, V4.S4, V0.S4
	VFMLA  V5.S4, V5.S4, V1.S4
	VFMLA  V6.S4, V6.S4, V2.S4
	VFMLA  V7.S4, V7.S4, V3.S4
	SUBS   $16, R2, R2
	BGE    loop16

tail:
	ADD $16, R2, R2 // 0..15 elements left
	CMP $8, R2
	BLT tail4
	VLD1.P 32(R0), [V4.S4, V5.S4]
	VLD1.P 32(R1), [V16.S4, V17.S4]
	WORD   $0x4EB0D484                  // FSUB V4.4S, V4.4S, V16.4S
	WORD   $0x4EB1D4A5                  // FSUB V5.4S, V5.4S, V17.4S
	VFMLA  V4.S4, V4.S4, V0.S4
	VFMLA  V5.S4, V5.S4, V1.S4
	SUB    $8, R2, R2

tail4:
	CMP $4, R2
	BLT reduce
	VLD1.P 16(R0), [V4.S4]
	VLD1.P 16(R1), [V16.S4]
	WORD   $0x4EB0D484                  // FSUB V4.4S, V4.4S, V16.4S
	VFMLA  V4.S4, V4.S4, V2.S4
	SUB    $4, R2, R2

reduce:
	HSUM_TO_F0
	CBZ R2, done

scalar:
	FMOVS.P 4(R0), F4
	FMOVS.P 4(R1), F16
	FSUBS   F16, F4, F4     // F4 = a[i] - b[i]
	FMADDS  F4, F0, F4, F0  // F0 += F4 * F4
	SUBS    $1, R2, R2
	BNE     scalar

done:
	FMOVS F0, ret+48(FP)
	RET
