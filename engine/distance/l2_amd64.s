//go:build !noasm

#include "textflag.h"
#include "avx2_amd64.h"

// func l2AVX2(a, b []float32) float32
//
// Squared Euclidean distance over len(a) elements: 32 per main-loop
// iteration (four YMM accumulators), then one 16- and one 8-element step,
// then a masked load for the last 1..7, then a horizontal sum.
TEXT ·l2AVX2(SB), NOSPLIT, $0-52
	MOVQ   a_base+0(FP), SI
	MOVQ   a_len+8(FP), CX
	MOVQ   b_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

	// CX counts down by 32; it goes negative when fewer than 32 remain.
	SUBQ $32, CX
	JL   tail

loop32:
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VSUBPS      (DI), Y4, Y4
	VSUBPS      32(DI), Y5, Y5
	VSUBPS      64(DI), Y6, Y6
	VSUBPS      96(DI), Y7, Y7
	VFMADD231PS Y4, Y4, Y0
	VFMADD231PS Y5, Y5, Y1
	VFMADD231PS Y6, Y6, Y2
	VFMADD231PS Y7, Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	SUBQ        $32, CX
	JGE         loop32

tail:
	ADDQ $32, CX // 0..31 elements left
	CMPQ CX, $16
	JL   tail8
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VSUBPS      (DI), Y4, Y4
	VSUBPS      32(DI), Y5, Y5
	VFMADD231PS Y4, Y4, Y0
	VFMADD231PS Y5, Y5, Y1
	ADDQ        $64, SI
	ADDQ        $64, DI
	SUBQ        $16, CX

tail8:
	CMPQ CX, $8
	JL   tailMasked
	VMOVUPS     (SI), Y4
	VSUBPS      (DI), Y4, Y4
	VFMADD231PS Y4, Y4, Y2
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX

tailMasked:
	TESTQ CX, CX
	JZ    reduce
	LOAD_TAIL
	VSUBPS      Y5, Y4, Y4 // masked-off lanes are 0 - 0
	VFMADD231PS Y4, Y4, Y3

reduce:
	HSUM_TO_X0
	VZEROUPPER
	MOVSS X0, ret+48(FP)
	RET
