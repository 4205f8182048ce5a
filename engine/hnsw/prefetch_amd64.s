//go:build !noasm

#include "textflag.h"

// func prefetchLines(p *float32, n int)
//
// Issues PREFETCHT0 for n consecutive 64-byte lines from p. A prefetch never
// faults, so lines past the end of the vector are harmless.
TEXT ·prefetchLines(SB), NOSPLIT, $0-16
	MOVQ  p+0(FP), SI
	MOVQ  n+8(FP), CX
	TESTQ CX, CX
	JLE   done

loop:
	PREFETCHT0 (SI)
	ADDQ       $64, SI
	DECQ       CX
	JNZ        loop

done:
	RET
