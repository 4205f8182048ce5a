// Shared pieces of the NEON kernels (l2_arm64.s, dot_arm64.s).
//
// Register use in every kernel:
//   R0 = a, R1 = b (post-incremented by the loads)
//   R2 = elements still to do
//   V0..V3   = four independent accumulators (4 float32 lanes each)
//   V4..V7   = elements of a, V16..V19 = elements of b
// V8..V15 are left alone: their low halves are callee-saved in the
// platform ABI, and nothing here needs them.
//
// Go's arm64 assembler has VFMLA but no vector FADD, FSUB or FADDP, so
// those are emitted with WORD. Encodings (ARMv8-A, 4S arrangement):
//   FADD  Vd.4S, Vn.4S, Vm.4S = 0x4E20D400 | Rm<<16 | Rn<<5 | Rd
//   FSUB  Vd.4S, Vn.4S, Vm.4S = 0x4EA0D400 | Rm<<16 | Rn<<5 | Rd
//   FADDP Vd.4S, Vn.4S, Vm.4S = 0x6E20D400 | Rm<<16 | Rn<<5 | Rd
//   FADDP Sd, Vn.2S           = 0x7E30D800 | Rn<<5 | Rd

// ZERO_ACC clears the four accumulators.
#define ZERO_ACC \
	VEOR V0.B16, V0.B16, V0.B16; \
	VEOR V1.B16, V1.B16, V1.B16; \
	VEOR V2.B16, V2.B16, V2.B16; \
	VEOR V3.B16, V3.B16, V3.B16

// HSUM_TO_F0 adds the four accumulators and then the four lanes of the
// result, leaving the total in F0 (S0, the low lane of V0).
#define HSUM_TO_F0 \
	WORD $0x4E21D400; /* FADD  V0.4S, V0.4S, V1.4S */ \
	WORD $0x4E23D442; /* FADD  V2.4S, V2.4S, V3.4S */ \
	WORD $0x4E22D400; /* FADD  V0.4S, V0.4S, V2.4S */ \
	WORD $0x6E20D400; /* FADDP V0.4S, V0.4S, V0.4S */ \
	WORD $0x7E30D800  /* FADDP S0, V0.2S */
