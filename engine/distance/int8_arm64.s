//go:build !noasm

#include "textflag.h"

// Register use in every int8 kernel:
//   R0 = a, R1 = b (post-incremented by the loads), R2 = codes still to do
//   V0..V3 = four int32x4 accumulators, V4..V7 codes of a, V16..V19 codes
//   of b, V20..V23 16-bit products; R3 = the result; R4, R5 scratch.
// V8..V15 are left alone (their low halves are callee-saved).
//
// Go's assembler has none of SABD, SDOT, UDOT, SMULL(2), UMULL(2),
// SADALP or UADALP, so they are WORD encodings, each commented with its
// instruction (checked against GNU as; see int8_test.go for the tests
// that run them under qemu-aarch64).

// ZERO_ACC4 clears the four accumulators.
#define ZERO_ACC4 \
	VEOR V0.B16, V0.B16, V0.B16; \
	VEOR V1.B16, V1.B16, V1.B16; \
	VEOR V2.B16, V2.B16, V2.B16; \
	VEOR V3.B16, V3.B16, V3.B16

// HSUM_TO_R3 adds the four accumulators and then their four lanes into R3.
#define HSUM_TO_R3 \
	VADD  V1.S4, V0.S4, V0.S4; \
	VADD  V3.S4, V2.S4, V2.S4; \
	VADD  V2.S4, V0.S4, V0.S4; \
	VADDV V0.S4, V0; \
	VMOV  V0.S[0], R3

// func l2Int8DotProd(a, b []int8) int32
TEXT ·l2Int8DotProd(SB), NOSPLIT, $0-52
	MOVD a_base+0(FP), R0
	MOVD a_len+8(FP), R2
	MOVD b_base+24(FP), R1
	ZERO_ACC4
	SUBS $64, R2, R2
	BLT  l2dptail

l2dploop64:
	VLD1.P 64(R0), [V4.B16, V5.B16, V6.B16, V7.B16]
	VLD1.P 64(R1), [V16.B16, V17.B16, V18.B16, V19.B16]
	WORD   $0x4E307484 // SABD V4.16B, V4.16B, V16.16B
	WORD   $0x4E3174A5 // SABD V5.16B, V5.16B, V17.16B
	WORD   $0x4E3274C6 // SABD V6.16B, V6.16B, V18.16B
	WORD   $0x4E3374E7 // SABD V7.16B, V7.16B, V19.16B
	WORD   $0x6E849480 // UDOT V0.4S, V4.16B, V4.16B
	WORD   $0x6E8594A1 // UDOT V1.4S, V5.16B, V5.16B
	WORD   $0x6E8694C2 // UDOT V2.4S, V6.16B, V6.16B
	WORD   $0x6E8794E3 // UDOT V3.4S, V7.16B, V7.16B
	SUBS   $64, R2, R2
	BGE    l2dploop64

l2dptail:
	ADD $64, R2, R2 // 0..63 codes left

l2dploop16:
	CMP    $16, R2
	BLT    l2dpreduce
	VLD1.P 16(R0), [V4.B16]
	VLD1.P 16(R1), [V16.B16]
	WORD   $0x4E307484 // SABD V4.16B, V4.16B, V16.16B
	WORD   $0x6E849480 // UDOT V0.4S, V4.16B, V4.16B
	SUB    $16, R2, R2
	B      l2dploop16

l2dpreduce:
	HSUM_TO_R3
	CBZ R2, l2dpdone

l2dpscalar:
	MOVB.P 1(R0), R4
	MOVB.P 1(R1), R5
	SUB    R5, R4, R4
	MADD   R4, R3, R4, R3 // R3 += R4 * R4
	SUBS   $1, R2, R2
	BNE    l2dpscalar

l2dpdone:
	MOVW R3, ret+48(FP)
	RET

// func dotInt8DotProd(a, b []int8) int32
TEXT ·dotInt8DotProd(SB), NOSPLIT, $0-52
	MOVD a_base+0(FP), R0
	MOVD a_len+8(FP), R2
	MOVD b_base+24(FP), R1
	ZERO_ACC4
	SUBS $64, R2, R2
	BLT  dotdptail

dotdploop64:
	VLD1.P 64(R0), [V4.B16, V5.B16, V6.B16, V7.B16]
	VLD1.P 64(R1), [V16.B16, V17.B16, V18.B16, V19.B16]
	WORD   $0x4E909480 // SDOT V0.4S, V4.16B, V16.16B
	WORD   $0x4E9194A1 // SDOT V1.4S, V5.16B, V17.16B
	WORD   $0x4E9294C2 // SDOT V2.4S, V6.16B, V18.16B
	WORD   $0x4E9394E3 // SDOT V3.4S, V7.16B, V19.16B
	SUBS   $64, R2, R2
	BGE    dotdploop64

dotdptail:
	ADD $64, R2, R2

dotdploop16:
	CMP    $16, R2
	BLT    dotdpreduce
	VLD1.P 16(R0), [V4.B16]
	VLD1.P 16(R1), [V16.B16]
	WORD   $0x4E909480 // SDOT V0.4S, V4.16B, V16.16B
	SUB    $16, R2, R2
	B      dotdploop16

dotdpreduce:
	HSUM_TO_R3
	CBZ R2, dotdpdone

dotdpscalar:
	MOVB.P 1(R0), R4
	MOVB.P 1(R1), R5
	MADD   R4, R3, R5, R3 // R3 += R5 * R4
	SUBS   $1, R2, R2
	BNE    dotdpscalar

dotdpdone:
	MOVW R3, ret+48(FP)
	RET

// func l2Int8NEON(a, b []int8) int32
TEXT ·l2Int8NEON(SB), NOSPLIT, $0-52
	MOVD a_base+0(FP), R0
	MOVD a_len+8(FP), R2
	MOVD b_base+24(FP), R1
	ZERO_ACC4
	SUBS $32, R2, R2
	BLT  l2ntail

l2nloop32:
	VLD1.P 32(R0), [V4.B16, V5.B16]
	VLD1.P 32(R1), [V16.B16, V17.B16]
	WORD   $0x4E307484 // SABD   V4.16B, V4.16B, V16.16B
	WORD   $0x4E3174A5 // SABD   V5.16B, V5.16B, V17.16B
	WORD   $0x2E24C094 // UMULL  V20.8H, V4.8B, V4.8B
	WORD   $0x6E24C095 // UMULL2 V21.8H, V4.16B, V4.16B
	WORD   $0x2E25C0B6 // UMULL  V22.8H, V5.8B, V5.8B
	WORD   $0x6E25C0B7 // UMULL2 V23.8H, V5.16B, V5.16B
	WORD   $0x6E606A80 // UADALP V0.4S, V20.8H
	WORD   $0x6E606AA1 // UADALP V1.4S, V21.8H
	WORD   $0x6E606AC2 // UADALP V2.4S, V22.8H
	WORD   $0x6E606AE3 // UADALP V3.4S, V23.8H
	SUBS   $32, R2, R2
	BGE    l2nloop32

l2ntail:
	ADD $32, R2, R2 // 0..31 codes left
	CMP $16, R2
	BLT l2nreduce
	VLD1.P 16(R0), [V4.B16]
	VLD1.P 16(R1), [V16.B16]
	WORD   $0x4E307484 // SABD   V4.16B, V4.16B, V16.16B
	WORD   $0x2E24C094 // UMULL  V20.8H, V4.8B, V4.8B
	WORD   $0x6E24C095 // UMULL2 V21.8H, V4.16B, V4.16B
	WORD   $0x6E606A80 // UADALP V0.4S, V20.8H
	WORD   $0x6E606AA1 // UADALP V1.4S, V21.8H
	SUB    $16, R2, R2

l2nreduce:
	HSUM_TO_R3
	CBZ R2, l2ndone

l2nscalar:
	MOVB.P 1(R0), R4
	MOVB.P 1(R1), R5
	SUB    R5, R4, R4
	MADD   R4, R3, R4, R3 // R3 += R4 * R4
	SUBS   $1, R2, R2
	BNE    l2nscalar

l2ndone:
	MOVW R3, ret+48(FP)
	RET

// func dotInt8NEON(a, b []int8) int32
TEXT ·dotInt8NEON(SB), NOSPLIT, $0-52
	MOVD a_base+0(FP), R0
	MOVD a_len+8(FP), R2
	MOVD b_base+24(FP), R1
	ZERO_ACC4
	SUBS $32, R2, R2
	BLT  dotntail

dotnloop32:
	VLD1.P 32(R0), [V4.B16, V5.B16]
	VLD1.P 32(R1), [V16.B16, V17.B16]
	WORD   $0x0E30C094 // SMULL  V20.8H, V4.8B, V16.8B
	WORD   $0x4E30C095 // SMULL2 V21.8H, V4.16B, V16.16B
	WORD   $0x0E31C0B6 // SMULL  V22.8H, V5.8B, V17.8B
	WORD   $0x4E31C0B7 // SMULL2 V23.8H, V5.16B, V17.16B
	WORD   $0x4E606A80 // SADALP V0.4S, V20.8H
	WORD   $0x4E606AA1 // SADALP V1.4S, V21.8H
	WORD   $0x4E606AC2 // SADALP V2.4S, V22.8H
	WORD   $0x4E606AE3 // SADALP V3.4S, V23.8H
	SUBS   $32, R2, R2
	BGE    dotnloop32

dotntail:
	ADD $32, R2, R2
	CMP $16, R2
	BLT dotnreduce
	VLD1.P 16(R0), [V4.B16]
	VLD1.P 16(R1), [V16.B16]
	WORD   $0x0E30C094 // SMULL  V20.8H, V4.8B, V16.8B
	WORD   $0x4E30C095 // SMULL2 V21.8H, V4.16B, V16.16B
	WORD   $0x4E606A80 // SADALP V0.4S, V20.8H
	WORD   $0x4E606AA1 // SADALP V1.4S, V21.8H
	SUB    $16, R2, R2

dotnreduce:
	HSUM_TO_R3
	CBZ R2, dotndone

dotnscalar:
	MOVB.P 1(R0), R4
	MOVB.P 1(R1), R5
	MADD   R4, R3, R5, R3 // R3 += R5 * R4
	SUBS   $1, R2, R2
	BNE    dotnscalar

dotndone:
	MOVW R3, ret+48(FP)
	RET
