//go:build !noasm

#include "textflag.h"
#include "int8_amd64.h"

// Register use in both kernels:
//   SI = a, DI = b (advanced as codes are consumed)
//   CX = codes still to do
//   Y0..Y3 = four int32x8 accumulators; Y4..Y11 scratch
//   AX = the result (the vector sum, then the scalar tail added to it)
//
// Sums are exact: a lane of an accumulator gains at most 2*255² per 64
// codes, so MaxInt8Len codes cannot overflow it.

// HSUM_I32_TO_AX adds the four accumulators and then the eight lanes of
// the result into AX. It clobbers Y1..Y3.
#define HSUM_I32_TO_AX \
	VPADDD       Y1, Y0, Y0; \
	VPADDD       Y3, Y2, Y2; \
	VPADDD       Y2, Y0, Y0; \
	HSUM_Y0_I32_TO_AX

// func l2Int8AVX2(a, b []int8) int32
//
// Sum of (a[i]-b[i])²: 64 codes per main-loop iteration, then 16 at a
// time, then the last 0..15 one at a time.
TEXT ·l2Int8AVX2(SB), NOSPLIT, $0-52
	MOVQ  a_base+0(FP), SI
	MOVQ  a_len+8(FP), CX
	MOVQ  b_base+24(FP), DI
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3

	SUBQ $64, CX
	JL   l2tail

l2loop64:
	VPMOVSXBW (SI), Y4
	VPMOVSXBW 16(SI), Y5
	VPMOVSXBW 32(SI), Y6
	VPMOVSXBW 48(SI), Y7
	VPMOVSXBW (DI), Y8
	VPMOVSXBW 16(DI), Y9
	VPMOVSXBW 32(DI), Y10
	VPMOVSXBW 48(DI), Y11
	VPSUBW    Y8, Y4, Y4
	VPSUBW    Y9, Y5, Y5
	VPSUBW    Y10, Y6, Y6
	VPSUBW    Y11, Y7, Y7
	VPMADDWD  Y4, Y4, Y4
	VPMADDWD  Y5, Y5, Y5
	VPMADDWD  Y6, Y6, Y6
	VPMADDWD  Y7, Y7, Y7
	VPADDD    Y4, Y0, Y0
	VPADDD    Y5, Y1, Y1
	VPADDD    Y6, Y2, Y2
	VPADDD    Y7, Y3, Y3
	ADDQ      $64, SI
	ADDQ      $64, DI
	SUBQ      $64, CX
	JGE       l2loop64

l2tail:
	ADDQ $64, CX // 0..63 codes left

l2loop16:
	CMPQ      CX, $16
	JL        l2reduce
	VPMOVSXBW (SI), Y4
	VPMOVSXBW (DI), Y8
	VPSUBW    Y8, Y4, Y4
	VPMADDWD  Y4, Y4, Y4
	VPADDD    Y4, Y0, Y0
	ADDQ      $16, SI
	ADDQ      $16, DI
	SUBQ      $16, CX
	JMP       l2loop16

l2reduce:
	HSUM_I32_TO_AX
	TESTQ CX, CX
	JZ    l2done

l2scalar:
	MOVBLSX (SI), R8
	MOVBLSX (DI), R9
	SUBL    R9, R8
	IMULL   R8, R8
	ADDL    R8, AX
	INCQ    SI
	INCQ    DI
	DECQ    CX
	JNZ     l2scalar

l2done:
	VZEROUPPER
	MOVL AX, ret+48(FP)
	RET

// func dotInt8AVX2(a, b []int8) int32
//
// Sum of a[i]*b[i], laid out as l2Int8AVX2 without the subtraction.
TEXT ·dotInt8AVX2(SB), NOSPLIT, $0-52
	MOVQ  a_base+0(FP), SI
	MOVQ  a_len+8(FP), CX
	MOVQ  b_base+24(FP), DI
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3

	SUBQ $64, CX
	JL   dottail

dotloop64:
	VPMOVSXBW (SI), Y4
	VPMOVSXBW 16(SI), Y5
	VPMOVSXBW 32(SI), Y6
	VPMOVSXBW 48(SI), Y7
	VPMOVSXBW (DI), Y8
	VPMOVSXBW 16(DI), Y9
	VPMOVSXBW 32(DI), Y10
	VPMOVSXBW 48(DI), Y11
	VPMADDWD  Y8, Y4, Y4
	VPMADDWD  Y9, Y5, Y5
	VPMADDWD  Y10, Y6, Y6
	VPMADDWD  Y11, Y7, Y7
	VPADDD    Y4, Y0, Y0
	VPADDD    Y5, Y1, Y1
	VPADDD    Y6, Y2, Y2
	VPADDD    Y7, Y3, Y3
	ADDQ      $64, SI
	ADDQ      $64, DI
	SUBQ      $64, CX
	JGE       dotloop64

dottail:
	ADDQ $64, CX

dotloop16:
	CMPQ      CX, $16
	JL        dotreduce
	VPMOVSXBW (SI), Y4
	VPMOVSXBW (DI), Y8
	VPMADDWD  Y8, Y4, Y4
	VPADDD    Y4, Y0, Y0
	ADDQ      $16, SI
	ADDQ      $16, DI
	SUBQ      $16, CX
	JMP       dotloop16

dotreduce:
	HSUM_I32_TO_AX
	TESTQ CX, CX
	JZ    dotdone

dotscalar:
	MOVBLSX (SI), R8
	MOVBLSX (DI), R9
	IMULL   R9, R8
	ADDL    R8, AX
	INCQ    SI
	INCQ    DI
	DECQ    CX
	JNZ     dotscalar

dotdone:
	VZEROUPPER
	MOVL AX, ret+48(FP)
	RET
