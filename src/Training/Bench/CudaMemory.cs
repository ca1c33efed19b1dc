using System.Runtime.InteropServices;

namespace CaptionService.Training.Bench;

/// <summary>
/// Allocated GPU memory and its peak, read from the CUDA runtime that libtorch has already loaded.
/// TorchSharp 0.107 exposes none of PyTorch's CUDA memory statistics, so this works only when PyTorch
/// allocates through CUDA's stream-ordered allocator (<c>PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync</c>,
/// read when libtorch loads): that allocator serves every tensor from the device's default memory
/// pool, whose used-memory high-water mark CUDA keeps and can reset.
/// </summary>
public static class CudaMemory
{
    private const int UsedMemCurrent = 7, UsedMemHigh = 8; // cudaMemPoolAttr

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int GetDefaultMemPool(out nint pool, int device);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int MemPoolGetAttribute(nint pool, int attribute, out ulong value);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int MemPoolSetAttribute(nint pool, int attribute, ref ulong value);

    private sealed record CudaRuntime(GetDefaultMemPool DefaultPool, MemPoolGetAttribute Get, MemPoolSetAttribute Set);

    private static readonly Lazy<CudaRuntime?> LoadedRuntime = new(Load);

    /// <summary>True when PyTorch was told to use cudaMallocAsync and the CUDA runtime is found.</summary>
    public static bool Supported => AsyncAllocator && LoadedRuntime.Value is not null;

    public static bool AsyncAllocator =>
        (Environment.GetEnvironmentVariable("PYTORCH_CUDA_ALLOC_CONF") ?? "").Contains("backend:cudaMallocAsync", StringComparison.Ordinal);

    /// <summary>Bytes allocated from the device's pool now.</summary>
    public static long Used(int device) => (long)Read(device, UsedMemCurrent);

    /// <summary>Most bytes allocated at once since the last <see cref="ResetPeak"/>.</summary>
    public static long Peak(int device) => (long)Read(device, UsedMemHigh);

    public static void ResetPeak(int device)
    {
        ulong zero = 0; // the only value CUDA accepts for a high-water mark
        Check(Runtime().Set(Pool(device), UsedMemHigh, ref zero), "cudaMemPoolSetAttribute");
    }

    private static ulong Read(int device, int attribute)
    {
        Check(Runtime().Get(Pool(device), attribute, out var value), "cudaMemPoolGetAttribute");
        return value;
    }

    private static nint Pool(int device)
    {
        Check(Runtime().DefaultPool(out var pool, device), "cudaDeviceGetDefaultMemPool");
        return pool;
    }

    private static CudaRuntime Runtime() => LoadedRuntime.Value ?? throw new InvalidOperationException("the CUDA runtime (libcudart) was not found");

    private static void Check(int status, string call)
    {
        if (status != 0) throw new InvalidOperationException($"{call} failed with CUDA error {status}");
    }

    // A name without a slash returns the copy already loaded under that soname (libtorch_cuda's own).
    private static CudaRuntime? Load()
    {
        foreach (var name in new[] { "libcudart.so.13", "libcudart.so.12", "libcudart.so" })
        {
            if (!NativeLibrary.TryLoad(name, out var handle)) continue;
            if (NativeLibrary.TryGetExport(handle, "cudaDeviceGetDefaultMemPool", out var pool)
                && NativeLibrary.TryGetExport(handle, "cudaMemPoolGetAttribute", out var get)
                && NativeLibrary.TryGetExport(handle, "cudaMemPoolSetAttribute", out var set))
                return new CudaRuntime(Marshal.GetDelegateForFunctionPointer<GetDefaultMemPool>(pool),
                    Marshal.GetDelegateForFunctionPointer<MemPoolGetAttribute>(get), Marshal.GetDelegateForFunctionPointer<MemPoolSetAttribute>(set));
        }
        return null;
    }
}
