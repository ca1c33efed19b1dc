/*
 * MKL, linked statically into libtorch_cpu.so, asks mkl_serv_intel_cpu_true() whether the CPU is
 * an Intel one and takes a slow generic path for fp32 GEMM when it is not, whatever the CPU's
 * instruction set. libtorch_cpu.so exports that function, so a definition that is loaded into the
 * global symbol scope before libtorch (see TorchRuntime / MklIntelPath.cs) is the one MKL calls.
 * Loaded only on non-Intel x86-64 CPUs; CAPTIONER_MKL_INTEL_PATH=0 turns it off.
 */
int mkl_serv_intel_cpu_true(void) { return 1; }
