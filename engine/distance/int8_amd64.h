// Shared pieces of the int8 kernels (int8_amd64.s, int8_avx512_amd64.s).

// HSUM_Y0_I32_TO_AX adds the eight int32 lanes of Y0 into AX. It clobbers
// X0 and X1.
#define HSUM_Y0_I32_TO_AX \
	VEXTRACTI128 $1, Y0, X1; \
	VPADDD       X1, X0, X0; \
	VPSHUFD      $0x4e, X0, X1; \
	VPADDD       X1, X0, X0; \
	VPSHUFD      $0xb1, X0, X1; \
	VPADDD       X1, X0, X0; \
	VMOVD        X0, AX
