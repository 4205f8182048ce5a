//go:build !noasm

#include "textflag.h"
#include "int8_amd64.h"

// The AVX-512 VNNI int8 kernels. VPDPBUSD multiplies unsigned by signed
// bytes and adds each group of four products straight into an int32 lane
// (no 16-bit saturation), 64 codes per instruction, so codes are not
// widened first as in the AVX2 kernels (int8_amd64.s).
//
// L2: d = |a-b| as an unsigned byte (max - min, 0..255), and
//   d² = d*(d-128) + 128*d
// where d-128 is d^0x80 read as a signed byte: Z0/Z1 collect
// VPDPBUSD(d, d^0x80), Z2/Z3 VPDPBUSD(d, 1) (the sum of d).
// Dot: a*b = (a+128)*b - 128*b, where a+128 is a^0x80 read as an
// unsigned byte: Z0/Z1 collect VPDPBUSD(a^0x80, b), Z2/Z3 VPDPBUSD(1, b).
//
// Register use: SI = a, DI = b, CX = codes still to do, Z14 = bytes of 1,
// Z15 = bytes of 0x80, Z4..Z11 scratch, K1 the tail's mask, AX the result.
// The last 0..63 codes are read with a masked load (zeros past the end,
// which add nothing to either sum), so nothing past len(a) is read.
//
// Sums are exact for len(a) <= MaxInt8Len: every partial sum is bounded by
// 255*128*32768 < 2³¹.

// INIT_CONSTS_ACCS zeroes the accumulators and loads the constants.
#define INIT_CONSTS_ACCS \
	MOVL         $0x80808080, AX; \
	VPBROADCASTD AX, Z15; \
	MOVL         $0x01010101, AX; \
	VPBROADCASTD AX, Z14; \
	VPXORD       Z0, Z0, Z0; \
	VPXORD       Z1, Z1, Z1; \
	VPXORD       Z2, Z2, Z2; \
	VPXORD       Z3, Z3, Z3

// TAIL_MASK sets K1 to the low CX bits (1..63 codes left).
#define TAIL_MASK \
	MOVQ  $-1, R8; \
	BZHIQ CX, R8, R8; \
	KMOVQ R8, K1

// HSUM_TO_AX adds Z1 to Z0 and Z3 to Z2, then Z0 + sign*128*Z2 over all
// sixteen lanes into AX (SUB_OR_ADD is VPADDD or VPSUBD).
#define HSUM_TO_AX(SUB_OR_ADD) \
	VPADDD        Z1, Z0, Z0; \
	VPADDD        Z3, Z2, Z2; \
	VPSLLD        $7, Z2, Z2; \
	SUB_OR_ADD    Z2, Z0, Z0; \
	VEXTRACTI64X4 $1, Z0, Y1; \
	VPADDD        Y1, Y0, Y0; \
	HSUM_Y0_I32_TO_AX

// L2_STEP adds the 64 codes in A and B (clobbered) to ACC and SUM.
#define L2_STEP(A, B, T, ACC, SUM) \
	VPMAXSB  B, A, T; \
	VPMINSB  B, A, A; \
	VPSUBB   A, T, T; \
	VPXORD   Z15, T, A; \
	VPDPBUSD A, T, ACC; \
	VPDPBUSD Z14, T, SUM

// DOT_STEP adds the 64 codes in A (clobbered) and B to ACC and SUM.
#define DOT_STEP(A, B, ACC, SUM) \
	VPXORD   Z15, A, A; \
	VPDPBUSD B, A, ACC; \
	VPDPBUSD B, Z14, SUM

// func l2Int8AVX512VNNI(a, b []int8) int32
TEXT ·l2Int8AVX512VNNI(SB), NOSPLIT, $0-52
	MOVQ a_base+0(FP), SI
	MOVQ a_len+8(FP), CX
	MOVQ b_base+24(FP), DI
	INIT_CONSTS_ACCS

	SUBQ $128, CX
	JL   l2rest

l2loop128:
	VMOVDQU8 (SI), Z4
	VMOVDQU8 64(SI), Z5
	VMOVDQU8 (DI), Z6
	VMOVDQU8 64(DI), Z7
	L2_STEP(Z4, Z6, Z8, Z0, Z2)
	L2_STEP(Z5, Z7, Z9, Z1, Z3)
	ADDQ     $128, SI
	ADDQ     $128, DI
	SUBQ     $128, CX
	JGE      l2loop128

l2rest:
	ADDQ $128, CX // 0..127 codes left
	CMPQ CX, $64
	JL   l2tail
	VMOVDQU8 (SI), Z4
	VMOVDQU8 (DI), Z6
	L2_STEP(Z4, Z6, Z8, Z0, Z2)
	ADDQ     $64, SI
	ADDQ     $64, DI
	SUBQ     $64, CX

l2tail:
	TESTQ CX, CX
	JZ    l2reduce
	TAIL_MASK
	VMOVDQU8.Z (SI), K1, Z5
	VMOVDQU8.Z (DI), K1, Z7
	L2_STEP(Z5, Z7, Z9, Z1, Z3)

l2reduce:
	HSUM_TO_AX(VPADDD)
	VZEROUPPER
	MOVL AX, ret+48(FP)
	RET

// func dotInt8AVX512VNNI(a, b []int8) int32
TEXT ·dotInt8AVX512VNNI(SB), NOSPLIT, $0-52
	MOVQ a_base+0(FP), SI
	MOVQ a_len+8(FP), CX
	MOVQ b_base+24(FP), DI
	INIT_CONSTS_ACCS

	SUBQ $128, CX
	JL   dotrest

dotloop128:
	VMOVDQU8 (SI), Z4
	VMOVDQU8 64(SI), Z5
	VMOVDQU8 (DI), Z6
	VMOVDQU8 64(DI), Z7
	DOT_STEP(Z4, Z6, Z0, Z2)
	DOT_STEP(Z5, Z7, Z1, Z3)
	ADDQ     $128, SI
	ADDQ     $128, DI
	SUBQ     $128, CX
	JGE      dotloop128

dotrest:
	ADDQ $128, CX
	CMPQ CX, $64
	JL   dottail
	VMOVDQU8 (SI), Z4
	VMOVDQU8 (DI), Z6
	DOT_STEP(Z4, Z6, Z0, Z2)
	ADDQ     $64, SI
	ADDQ     $64, DI
	SUBQ     $64, CX

dottail:
	TESTQ CX, CX
	JZ    dotreduce
	TAIL_MASK
	VMOVDQU8.Z (SI), K1, Z5
	VMOVDQU8.Z (DI), K1, Z7
	DOT_STEP(Z5, Z7, Z1, Z3)

dotreduce:
	HSUM_TO_AX(VPSUBD)
	VZEROUPPER
	MOVL AX, ret+48(FP)
	RET
