using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace CaptionService.Model;

/// <summary>
/// libtorch's fp32 GEMM is MKL's, linked into libtorch_cpu.so, and MKL takes a slow generic path on
/// CPUs whose vendor is not Intel (on this project's AMD EPYC machines: 85-160 GFLOP/s where the same
/// cores do 266-326 in OpenBLAS). MKL decides through <c>mkl_serv_intel_cpu_true()</c>, which
/// libtorch_cpu.so exports; the one-line library built from <c>Native/mkl_intel_path.c</c> defines it
/// to return 1, and loading it into the global symbol scope before libtorch makes MKL take its Intel
/// path, choosing kernels by the CPU's instruction set as it does on Intel CPUs.
/// </summary>
/// <remarks>
/// A workaround for a vendor check, not a fix in MKL. It is a no-op on Intel CPUs and on anything
/// that is not x86-64, <c>CAPTIONER_MKL_INTEL_PATH=0</c> (or off/false) turns it off, and a build
/// without a C compiler has no library to load: then it is off and says why (<see cref="Status"/>,
/// shown by the service's /model and by <c>captioner bench</c>). It only counts when it runs before
/// libtorch is loaded, which <see cref="TorchRuntime.EnsureLoaded"/> makes sure of.
/// </remarks>
public static class MklIntelPath
{
    public const string LibraryName = "libcaptioner_mkl_intel_path.so";
    public const string EnvironmentVariable = "CAPTIONER_MKL_INTEL_PATH";

    private static readonly Lock Gate = new();
    private static string? _status;

    /// <summary>True when the library is loaded and MKL sees an Intel CPU.</summary>
    public static bool IsOn { get; private set; }

    /// <summary>"on (...)" or "off: why", once <see cref="TorchRuntime.EnsureLoaded"/> has run.</summary>
    public static string Status => _status ?? "off: libtorch not loaded yet";

    /// <summary>The CPU vendor from CPUID ("GenuineIntel", "AuthenticAMD", ...), or null off x86.</summary>
    public static string? CpuVendor()
    {
        if (!X86Base.IsSupported) return null;
        var (_, ebx, ecx, edx) = X86Base.CpuId(0, 0);
        Span<int> words = [ebx, edx, ecx];
        return System.Text.Encoding.ASCII.GetString(MemoryMarshal.AsBytes(words));
    }

    /// <summary>Loads the library when it applies. Called once, before libtorch loads.</summary>
    internal static void Apply()
    {
        lock (Gate)
        {
            if (_status is not null) return;
            _status = Decide();
        }
    }

    private static string Decide()
    {
        var setting = Environment.GetEnvironmentVariable(EnvironmentVariable)?.Trim().ToLowerInvariant();
        if (setting is "0" or "off" or "false" or "no") return $"off: turned off by {EnvironmentVariable}={setting}";
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return "off: only for Linux x86-64";
        var vendor = CpuVendor();
        if (vendor == "GenuineIntel") return "off: not needed on an Intel CPU";
        if (LibTorchAlreadyLoaded()) return "off: libtorch was loaded before it could apply (TorchRuntime.PrepareProcess must run first)";
        var path = Path.Combine(AppContext.BaseDirectory, LibraryName);
        if (!File.Exists(path)) return $"off: {LibraryName} was not built (no C compiler at build time)";
        var handle = dlopen(path, RtldNow | RtldGlobal);
        if (handle == IntPtr.Zero) return $"off: {LibraryName} could not be loaded: {Marshal.PtrToStringUTF8(dlerror())}";
        IsOn = true;
        return $"on ({vendor} CPU: MKL takes its Intel code path; {EnvironmentVariable}=0 turns it off)";
    }

    private static bool LibTorchAlreadyLoaded()
    {
        try
        {
            return File.ReadLines("/proc/self/maps").Any(l => l.EndsWith("/libtorch_cpu.so", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return false;
        }
    }

    private const int RtldNow = 2, RtldGlobal = 0x100;

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern IntPtr dlopen([MarshalAs(UnmanagedType.LPUTF8Str)] string file, int mode);

    [DllImport("libc", EntryPoint = "dlerror")]
    private static extern IntPtr dlerror();

    [DllImport("libc", EntryPoint = "dlsym")]
    private static extern IntPtr dlsym(IntPtr handle, [MarshalAs(UnmanagedType.LPUTF8Str)] string symbol);

    /// <summary>What <c>mkl_serv_intel_cpu_true</c> resolves to in the global scope (the function MKL's
    /// own calls reach, since libtorch_cpu.so exports it), called; null when no such symbol is visible.</summary>
    public static int? ResolvedVendorCheck()
    {
        if (!OperatingSystem.IsLinux()) return null;
        var f = dlsym(IntPtr.Zero, "mkl_serv_intel_cpu_true"); // RTLD_DEFAULT
        if (f == IntPtr.Zero) return null;
        return Marshal.GetDelegateForFunctionPointer<VendorCheck>(f)();
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int VendorCheck();
}
