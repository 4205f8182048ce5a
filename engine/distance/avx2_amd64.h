// Shared pieces of the AVX2+FMA kernels (l2_amd64.s, dot_amd64.s).
//
// Register use in every kernel:
//   SI = a, DI = b (advanced as elements are consumed)
//   CX = elements still to do
//   Y0..Y3 = four independent accumulators (8 float32 lanes each), so that
//            four FMAs are in flight instead of one dependency chain
//   Y4..Y8 = scratch

// tailMask<> is eight all-ones int32 words followed by eight zero words.
// The 8 words starting at byte 32-4*n have exactly the first n lanes set,
// which is the VMASKMOVPS mask that loads the last n (1..7) elements.
// Masked-off lanes read as 0.0 and, unlike a plain load, never fault, so
// the kernels never touch memory past the end of a or b.
DATA tailMask<>+0(SB)/4, $0xffffffff
DATA tailMask<>+4(SB)/4, $0xffffffff
DATA tailMask<>+8(SB)/4, $0xffffffff
DATA tailMask<>+12(SB)/4, $0xffffffff
DATA tailMask<>+16(SB)/4, $0xffffffff
DATA tailMask<>+20(SB)/4, $0xffffffff
DATA tailMask<>+24(SB)/4, $0xffffffff
DATA tailMask<>+28(SB)/4, $0xffffffff
DATA tailMask<>+32(SB)/4, $0
DATA tailMask<>+36(SB)/4, $0
DATA tailMask<>+40(SB)/4, $0
DATA tailMask<>+44(SB)/4, $0
DATA tailMask<>+48(SB)/4, $0
DATA tailMask<>+52(SB)/4, $0
DATA tailMask<>+56(SB)/4, $0
DATA tailMask<>+60(SB)/4, $0
GLOBL tailMask<>(SB), RODATA|NOPTR, $64

// LOAD_TAIL loads the last CX (1..7) elements of a into Y4 and of b into
// Y5, zero-filling the other lanes. It clobbers AX, CX and Y8.
#define LOAD_TAIL \
	LEAQ       tailMask<>+32(SB), AX; \
	SHLQ       $2, CX; \
	SUBQ       CX, AX; \
	VMOVDQU    (AX), Y8; \
	VMASKMOVPS (SI), Y8, Y4; \
	VMASKMOVPS (DI), Y8, Y5

// HSUM_TO_X0 adds the four accumulators and then the eight lanes of the
// result, leaving the total in the low lane of X0. It clobbers Y1..Y3.
#define HSUM_TO_X0 \
	VADDPS       Y1, Y0, Y0; \
	VADDPS       Y3, Y2, Y2; \
	VADDPS       Y2, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVHLPS     X0, X0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVSHDUP    X0, X1; \
	VADDSS       X1, X0, X0
