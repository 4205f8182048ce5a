//go:build !noasm

#include "textflag.h"

// func prefetchLines(p *float32, n int)
//
// Issues PRFM PLDL1KEEP for n consecutive 64-byte lines from p. A prefetch
// never faults, so lines past the end of the vector are harmless.
TEXT ·prefetchLines(SB), NOSPLIT, $0-16
	MOVD p+0(FP), R0
	MOVD n+8(FP), R1
	CMP  $0, R1
	BLE  done

loop:
	PRFM (R0), PLDL1KEEP
	ADD  $64, R0
	SUBS $1, R1, R1
	BNE  loop

done:
	RET
