using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace CaptionService.Model;

/// <summary>See <see cref="TorchRuntime.TuneMalloc"/>.</summary>
public enum MallocTuning
{
    Default,
    Threshold,
    NoMmap,
}

/// <summary>Device and precision choices, checked once, with errors that say what to pick instead.</summary>
public static class TorchRuntime
{
    /// <summary>"auto" (CUDA when present, else CPU), "cpu", "cuda" or "cuda:N".</summary>
    public static Device ResolveDevice(string spec)
    {
        EnsureLoaded();
        var s = spec.Trim().ToLowerInvariant();
        if (s is "" or "auto") return cuda.is_available() ? CUDA : CPU;
        if (s == "cpu") return CPU;
        if (s == "cuda" || s.StartsWith("cuda:"))
        {
            if (!cuda.is_available())
                throw new ArgumentException($"device '{spec}': CUDA is not available in this build or on this machine (use 'cpu' or 'auto')");
            int index = s == "cuda" ? 0 : int.TryParse(s[5..], out var i) ? i : -1;
            if (index < 0 || index >= cuda.device_count())
                throw new ArgumentException($"device '{spec}': there are {cuda.device_count()} CUDA devices");
            return new Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"device '{spec}' is not one of auto, cpu, cuda, cuda:N");
    }

    public static Precision ParsePrecision(string name) => name.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" => Precision.Fp32,
        "bf16" or "bfloat16" => Precision.Bf16,
        "fp16" or "float16" or "half" => Precision.Fp16,
        _ => throw new ArgumentException($"dtype '{name}' is not one of fp32, bf16, fp16"),
    };

    public static ScalarType ScalarTypeOf(Precision p) => p switch
    {
        Precision.Bf16 => ScalarType.BFloat16,
        Precision.Fp16 => ScalarType.Float16,
        _ => ScalarType.Float32,
    };

    public static string Name(ScalarType t) => t switch
    {
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "fp16",
        ScalarType.Float32 => "fp32",
        _ => t.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// The precision to serve with: a name (fp32, bf16, fp16), or "auto": bf16 where the hardware
    /// computes it natively (a CPU with AVX512-BF16 or AMX-BF16; a CUDA GPU of compute capability 8 or
    /// more), fp16 on older CUDA GPUs, fp32 on other CPUs. With mixed precision (the default) only the
    /// linear layers and the LM head run in the low dtype; docs/benchmarks.md gives the speed and the
    /// agreement of greedy captions with fp32. The reason says which rule chose it.
    /// </summary>
    public static (Precision Precision, string Reason) ResolvePrecision(string spec, Device device)
    {
        if (spec.Trim().ToLowerInvariant() != "auto")
        {
            Precision chosen;
            try
            {
                chosen = ParsePrecision(spec);
            }
            catch (ArgumentException)
            {
                throw new ArgumentException($"dtype '{spec}' is not one of auto, fp32, bf16, fp16");
            }
            CheckSupported(device, chosen);
            return (chosen, "configured");
        }
        if (device.type == DeviceType.CUDA)
            return CudaComputeCapability(device.index) switch
            {
                >= 8 and var major => (Precision.Bf16, $"auto: CUDA compute capability {major}.x computes bf16 natively"),
                int major => (Precision.Fp16, $"auto: CUDA compute capability {major}.x has no fast bf16, fp16 instead"),
                null => (Precision.Fp16, "auto: CUDA compute capability unknown, fp16 (fast on every CUDA GPU)"),
            };
        return CpuBf16Feature() is { } feature
            ? (Precision.Bf16, $"auto: this CPU has {feature}")
            : (Precision.Fp32, "auto: this CPU has no native bf16 (AVX512-BF16 or AMX-BF16)");
    }

    /// <summary>"AMX-BF16" or "AVX512-BF16" when the CPU has it (CPUID leaf 7), else null.</summary>
    public static string? CpuBf16Feature()
    {
        if (!System.Runtime.Intrinsics.X86.X86Base.IsSupported) return null;
        var (maxLeaf, _, _, _) = System.Runtime.Intrinsics.X86.X86Base.CpuId(0, 0);
        if (maxLeaf < 7) return null;
        var (_, _, _, edx0) = System.Runtime.Intrinsics.X86.X86Base.CpuId(7, 0);
        if ((edx0 & (1 << 22)) != 0) return "AMX-BF16";
        var (eax1, _, _, _) = System.Runtime.Intrinsics.X86.X86Base.CpuId(7, 1);
        return (eax1 & (1 << 5)) != 0 ? "AVX512-BF16" : null;
    }

    /// <summary>The major compute capability, from the CUDA runtime libtorch loaded; null when not found.</summary>
    private static int? CudaComputeCapability(int device)
    {
        foreach (var name in new[] { "libcudart.so.13", "libcudart.so.12", "libcudart.so" })
        {
            if (!NativeLibrary.TryLoad(name, out var handle) || !NativeLibrary.TryGetExport(handle, "cudaDeviceGetAttribute", out var f)) continue;
            const int ComputeCapabilityMajor = 75; // cudaDevAttrComputeCapabilityMajor
            return Marshal.GetDelegateForFunctionPointer<DeviceGetAttribute>(f)(out int major, ComputeCapabilityMajor, Math.Max(0, device)) == 0 ? major : null;
        }
        return null;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    private delegate int DeviceGetAttribute(out int value, int attribute, int device);

    /// <summary>libtorch's CPU threads (intra-op).</summary>
    public static int Threads
    {
        get => get_num_threads();
        set => set_num_threads(value);
    }

    /// <summary>Tensors made on the calling thread and not yet freed (a leak shows as growth).</summary>
    public static long LiveTensorsOnThisThread => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    /// <summary>fp16 inference needs CUDA: on CPU many half kernels are missing or slow.</summary>
    public static void CheckSupported(Device device, Precision precision)
    {
        if (precision == Precision.Fp16 && device.type != DeviceType.CUDA)
            throw new ArgumentException("dtype fp16 is for CUDA; on CPU use bf16 or fp32");
    }

    /// <summary>
    /// glibc malloc settings for libtorch's CPU allocations (Linux only; false elsewhere or when they
    /// cannot be set). By default glibc serves blocks above its mmap threshold (dynamic, at most
    /// 32 MiB) with a fresh mmap, so a large activation page-faults in new zeroed pages every time.
    /// <see cref="MallocTuning.Threshold"/> fixes the threshold at 32 MiB and keeps up to 1 GiB of freed
    /// heap mapped; <see cref="MallocTuning.NoMmap"/> serves every block from the heap (no mmap at all),
    /// so even the largest blocks reuse freed pages.
    /// </summary>
    public static bool TuneMalloc(MallocTuning mode)
    {
        if (mode == MallocTuning.Default) return true;
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            bool ok = mallopt(MTrimThreshold, 1 << 30) == 1;
            return mode == MallocTuning.NoMmap ? ok && mallopt(MMmapMax, 0) == 1 : ok && mallopt(MMmapThreshold, 32 << 20) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    private const int MTrimThreshold = -1, MMmapThreshold = -3, MMmapMax = -4, MArenaMax = -8;

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);

    /// <summary>
    /// What must happen before libtorch is loaded, which it reads only then: OpenMP's passive waits
    /// (<see cref="PreferPassiveOpenMpWaits"/>) and MKL's fast path where that applies
    /// (<see cref="MklIntelPath"/>); and, while the process has few threads yet, the limit on glibc's
    /// malloc arenas (<see cref="LimitMallocArenas"/>). Cheap, and loads nothing of libtorch: the apps
    /// call it first thing, and <see cref="EnsureLoaded"/> calls it again (it acts once).
    /// </summary>
    public static void PrepareProcess()
    {
        PreferPassiveOpenMpWaits();
        LimitMallocArenas();
        MklIntelPath.Apply();
    }

    /// <summary>Most glibc malloc arenas: one per core, at least 2 and at most 8.</summary>
    public static int MallocArenaLimit(int processors) => Math.Clamp(processors, 2, 8);

    /// <summary>What <see cref="LimitMallocArenas"/> did: the limit, or why there is none.</summary>
    public static string MallocArenas => ArenasDecided ?? "not set yet";

    private static string? ArenasDecided;

    /// <summary>
    /// Limits glibc's malloc arenas to <see cref="MallocArenaLimit"/> (Linux; unless MALLOC_ARENA_MAX
    /// or GLIBC_TUNABLES already say how many). glibc gives each new thread an arena of its own, up to
    /// 8 per core, and each may keep up to 64 MiB of freed memory at its top, which <c>malloc_trim</c>
    /// does not give back (it trims only the main arena's top). Image decoding allocates blocks of up
    /// to 32 MiB on whichever thread decodes, so under a stream of large uploads more and more arenas
    /// held such a top: in the soak the service's resident set 10 s after the traffic was 547 MiB
    /// after one minute of it and 836 MiB after six. With MALLOC_ARENA_MAX=2 from the start (what the
    /// container sets) it stayed at 430-490 MiB through four minutes and ended at 437 MiB, with the
    /// same latencies. From inside the process the limit comes late: the runtime's threads have made
    /// about 9 arenas before Main, and later threads share those (619 MiB after six minutes, still
    /// growing); docs/benchmarks.md has the runs. glibc fixes its own limit once a process has more
    /// than 8 arenas: call this first thing.
    /// </summary>
    public static void LimitMallocArenas() => ArenasDecided ??= ArenaLimit();

    private static string ArenaLimit()
    {
        if (!OperatingSystem.IsLinux()) return "not glibc (not Linux)";
        if (Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is { } set) return $"{set} (MALLOC_ARENA_MAX)";
        if (Environment.GetEnvironmentVariable("GLIBC_TUNABLES") is { } tunables && tunables.Contains("arena_max", StringComparison.Ordinal))
            return $"as GLIBC_TUNABLES says ({tunables})";
        int limit = MallocArenaLimit(Environment.ProcessorCount);
        try
        {
            return mallopt(MArenaMax, limit) == 1
                ? $"at most {limit} for arenas made from now on (MALLOC_ARENA_MAX={limit} in the environment covers the whole process)"
                : "glibc refused the limit";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return "not glibc (no mallopt)";
        }
    }

    /// <summary>Loads libtorch through TorchSharp, turning a failure into a message a person can act on,
    /// after <see cref="PrepareProcess"/>.</summary>
    public static void EnsureLoaded()
    {
        PrepareProcess();
        try
        {
            _ = CPU.type;
        }
        catch (TypeInitializationException e)
        {
            var inner = e.InnerException?.Message ?? e.Message;
            var hint = inner.Contains("GLIBCXX")
                ? " The native TorchSharp library needs a newer libstdc++ than this system has; the build marks that requirement weak "
                  + "(build/LibTorchSharpFix.targets). Rebuild with -p:LibTorchSharpFix=always if the binaries came from another machine."
                : "";
            throw new InvalidOperationException($"TorchSharp's native library could not be loaded: {inner}.{hint}", e);
        }
    }

    /// <summary>
    /// Sets OMP_WAIT_POLICY=PASSIVE for libtorch's OpenMP runtime unless the environment already sets
    /// it (Linux; it only counts before libtorch is first loaded, which reads it once). With the
    /// default (active) policy, libtorch's intra-op threads spin between parallel regions, and every
    /// parallel op waits for its slowest thread: when anything else wants a core (the service's
    /// request threads decoding images, another process) a thread that lost its core stalls every op
    /// for a scheduler time slice. Measured on 2 cores with another process busy: the tiny model's
    /// decode step at batch 32 took 312-364 ms with active waits, 3-24 ms with passive ones; encoding
    /// one full-size image took 1.5-2.3 s and 0.6 s with one thread (see docs/benchmarks.md).
    /// </summary>
    public static void PreferPassiveOpenMpWaits()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null) return;
        try
        {
            setenv("OMP_WAIT_POLICY", "PASSIVE", 0); // .NET's own environment is a copy: libgomp reads the C one
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);
}
