//go:build !noasm

#include "textflag.h"
#include "avx2_amd64.h"

// DOT_TO_X0 computes the inner product over len(a) elements into the low
// lane of X0: 32 per main-loop iteration (four YMM accumulators), then one
// 16- and one 8-element step, then a masked load for the last 1..7, then a
// horizontal sum. It is a macro so that dotAVX2 and ipDistAVX2 share one
// body without a call between them.
#define DOT_TO_X0 \
	MOVQ   a_base+0(FP), SI; \
	MOVQ   a_len+8(FP), CX; \
	MOVQ   b_base+24(FP), DI; \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	SUBQ   $32, CX; \
	JL     tail; \
loop32: \
	VMOVUPS     (SI), Y4; \
	VMOVUPS     32(SI), Y5; \
	VMOVUPS     64(SI), Y6; \
	VMOVUPS     96(SI), Y7; \
	VFMADD231PS (DI), Y4, Y0; \
	VFMADD231PS 32(DI), Y5, Y1; \
	VFMADD231PS 64(DI), Y6, Y2; \
	VFMADD231PS 96(DI), Y7, Y3; \
	ADDQ        $128, SI; \
	ADDQ        $128, DI; \
	SUBQ        $32, CX; \
	JGE         loop32; \
tail: \
	ADDQ $32, CX; \
	CMPQ CX, $16; \
	JL   tail8; \
	VMOVUPS     (SI), Y4; \
	VMOVUPS     32(SI), Y5; \
	VFMADD231PS (DI), Y4, Y0; \
	VFMADD231PS 32(DI), Y5, Y1; \
	ADDQ        $64, SI; \
	ADDQ        $64, DI; \
	SUBQ        $16, CX; \
tail8: \
	CMPQ CX, $8; \
	JL   tailMasked; \
	VMOVUPS     (SI), Y4; \
	VFMADD231PS (DI), Y4, Y2; \
	ADDQ        $32, SI; \
	ADDQ        $32, DI; \
	SUBQ        $8, CX; \
tailMasked: \
	TESTQ CX, CX; \
	JZ    reduce; \
	LOAD_TAIL; \
	VFMADD231PS Y5, Y4, Y3; \
reduce: \
	HSUM_TO_X0

// func dotAVX2(a, b []float32) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-52
	DOT_TO_X0
	VZEROUPPER
	MOVSS X0, ret+48(FP)
	RET

// func ipDistAVX2(a, b []float32) float32
//
// 1 - dot(a, b).
TEXT ·ipDistAVX2(SB), NOSPLIT, $0-52
	DOT_TO_X0
	VZEROUPPER
	MOVSS $(1.0), X1
	SUBSS X0, X1
	MOVSS X1, ret+48(FP)
	RET
