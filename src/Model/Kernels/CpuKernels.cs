using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace CaptionService.Model.Kernels;

/// <summary>
/// The CPU kernels (<c>Native/cpu_kernels.c</c>, built into <see cref="LibraryName"/> when the build
/// machine has a C compiler). For a cached decoding step: linear layers at a few rows against weights
/// packed once (<see cref="PackedLinear"/>), fp32 and bf16, and attention of one query per sequence and
/// head; libtorch's general kernels re-pack every weight at every call and stream a decode step's weights
/// at a third of the memory bandwidth or less on this project's machines, these stream them once. For
/// the ViT (bf16): linear layers at many rows with the LayerNorm, GELU and residual add fused in, and
/// its attention. They run on libtorch's own OpenMP threads.
/// </summary>
/// <remarks>
/// Used only where they apply: a CPU with AVX-512 (AVX512-BF16 for bf16 weights), the library built,
/// and <c>CAPTIONER_CPU_KERNELS</c> not 0/off. Otherwise, or for a model that never called
/// <see cref="Captioner.UseCpuKernels"/>, every op is libtorch's. <see cref="Status"/> says which and
/// why (the service's /model, <c>captioner inspect</c>, the bench).
/// </remarks>
public static unsafe class CpuKernels
{
    public const string LibraryName = "libcaptioner_kernels.so";
    public const string EnvironmentVariable = "CAPTIONER_CPU_KERNELS";

    private static readonly Lazy<Library?> Loaded = new(Load);
    private static string? StatusText;

    /// <summary>"on (...)" or "off: why".</summary>
    public static string Status
    {
        get
        {
            _ = Loaded.Value;
            return StatusText!;
        }
    }

    /// <summary>The fp32 kernels may run here.</summary>
    public static bool Fp32 => Loaded.Value is { Features: >= 1 };

    /// <summary>The bf16 kernels may run here too (AVX512-BF16).</summary>
    public static bool Bf16 => Loaded.Value is { Features: >= 3 };

    /// <summary>Whether packed weights of <paramref name="dtype"/> have kernels here.</summary>
    public static bool Supports(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => Fp32,
        ScalarType.BFloat16 => Bf16,
        _ => false,
    };

    private sealed class Library(IntPtr handle, int features)
    {
        public int Features { get; } = features;
        public readonly delegate* unmanaged<int, int, long> PackedF32Size = (delegate* unmanaged<int, int, long>)NativeLibrary.GetExport(handle, "ck_packed_f32_size");
        public readonly delegate* unmanaged<int, int, long> PackedBf16Size = (delegate* unmanaged<int, int, long>)NativeLibrary.GetExport(handle, "ck_packed_bf16_size");
        public readonly delegate* unmanaged<void*, int, int, void*, void> PackF32 = (delegate* unmanaged<void*, int, int, void*, void>)NativeLibrary.GetExport(handle, "ck_pack_f32");
        public readonly delegate* unmanaged<void*, int, int, int, void*, void> PackBf16 = (delegate* unmanaged<void*, int, int, int, void*, void>)NativeLibrary.GetExport(handle, "ck_pack_bf16");
        public readonly delegate* unmanaged<int, int, int, void*, long, void*, void*, float, void*, void*, void*, long, int, int, int> LinearF32 =
            (delegate* unmanaged<int, int, int, void*, long, void*, void*, float, void*, void*, void*, long, int, int, int>)NativeLibrary.GetExport(handle, "ck_linear_f32");
        public readonly delegate* unmanaged<int, int, int, void*, long, void*, void*, float, void*, void*, void*, long, int, int, int> LinearBf16 =
            (delegate* unmanaged<int, int, int, void*, long, void*, void*, float, void*, void*, void*, long, int, int, int>)NativeLibrary.GetExport(handle, "ck_linear_bf16");
        public readonly delegate* unmanaged<int, int, int, void*, long, int, void*, void*, float, void*, void*, void*, long, void*, long, int, int, int, int> LinearRowsBf16 =
            (delegate* unmanaged<int, int, int, void*, long, int, void*, void*, float, void*, void*, void*, long, void*, long, int, int, int, int>)NativeLibrary.GetExport(handle, "ck_linear_rows_bf16");
        public readonly delegate* unmanaged<int, int, int, int, void*, long, void*, long, float, int, int> VitAttention =
            (delegate* unmanaged<int, int, int, int, void*, long, void*, long, float, int, int>)NativeLibrary.GetExport(handle, "ck_vit_attention");
        public readonly delegate* unmanaged<int, int, int, void*, long, void*, long, void*, void*, long, long, int, int*, int, float, void*, long, int, void> Attend =
            (delegate* unmanaged<int, int, int, void*, long, void*, long, void*, void*, long, long, int, int*, int, float, void*, long, int, void>)NativeLibrary.GetExport(handle, "ck_attend");
        public readonly delegate* unmanaged<int, int, void*, long, long*, double*, int, void> RowStats =
            (delegate* unmanaged<int, int, void*, long, long*, double*, int, void>)NativeLibrary.GetExport(handle, "ck_row_stats");
        public readonly delegate* unmanaged<int, long, int, double> PeakFlops =
            (delegate* unmanaged<int, long, int, double>)NativeLibrary.GetExport(handle, "ck_peak_flops");
        public readonly delegate* unmanaged<int, int, int, void*, long, void*, int, void> TopK =
            (delegate* unmanaged<int, int, int, void*, long, void*, int, void>)NativeLibrary.GetExport(handle, "ck_top_k");
    }

    private static Library? Load()
    {
        var setting = Environment.GetEnvironmentVariable(EnvironmentVariable)?.Trim().ToLowerInvariant();
        if (setting is "0" or "off" or "false" or "no") return Off($"turned off by {EnvironmentVariable}={setting}");
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return Off("only for Linux x86-64");
        var path = Path.Combine(AppContext.BaseDirectory, LibraryName);
        if (!File.Exists(path)) return Off($"{LibraryName} was not built (no C compiler at build time)");
        if (!NativeLibrary.TryLoad(path, out var handle)) return Off($"{LibraryName} could not be loaded");
        int features = ((delegate* unmanaged<int>)NativeLibrary.GetExport(handle, "ck_cpu_features"))();
        if (features == 0) return Off("this CPU has no AVX-512");
        TorchRuntime.EnsureLoaded();
        string threads = ShareOpenMp(handle);
        StatusText = $"on ({(features >= 3 ? "fp32 and bf16 (AVX512-BF16)" : "fp32 only: no AVX512-BF16")}; {threads}; {EnvironmentVariable}=0 turns them off)";
        return new Library(handle, features);
    }

    private static Library? Off(string why)
    {
        StatusText = "off: " + why;
        return null;
    }

    /// <summary>Hands the kernels libtorch's OpenMP entry points (its libgomp, found among the loaded
    /// libraries next to libtorch_cpu), so they run on libtorch's threads.</summary>
    private static string ShareOpenMp(IntPtr kernels)
    {
        var set = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, void>)NativeLibrary.GetExport(kernels, "ck_set_openmp");
        string? gomp = null;
        try
        {
            var loaded = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(p => p.Length >= 6)
                .Select(p => p[^1]).Distinct().ToList();
            var torchDir = loaded.Where(p => p.EndsWith("/libtorch_cpu.so", StringComparison.Ordinal)).Select(Path.GetDirectoryName).FirstOrDefault();
            gomp = loaded.Where(p => Path.GetFileName(p).StartsWith("libgomp", StringComparison.Ordinal))
                .OrderByDescending(p => Path.GetDirectoryName(p) == torchDir).FirstOrDefault();
        }
        catch (IOException)
        {
        }
        if (gomp is null || !NativeLibrary.TryLoad(gomp, out var omp)
            || !NativeLibrary.TryGetExport(omp, "GOMP_parallel", out var parallel)
            || !NativeLibrary.TryGetExport(omp, "omp_get_thread_num", out var threadNum)
            || !NativeLibrary.TryGetExport(omp, "omp_get_num_threads", out var numThreads))
        {
            set(IntPtr.Zero, IntPtr.Zero, IntPtr.Zero);
            return "one thread: libtorch's OpenMP runtime was not found";
        }
        set(parallel, threadNum, numThreads);
        return $"libtorch's OpenMP threads ({Path.GetFileName(gomp)})";
    }

    private static Library Lib => Loaded.Value ?? throw new InvalidOperationException($"the CPU kernels are off: {StatusText}");

    [DllImport("LibTorchSharp")]
    private static extern IntPtr THSTensor_data(IntPtr handle);

    private static void* Data(Tensor t) => (void*)THSTensor_data(t.Handle);

    /// <summary>Elements of <paramref name="dtype"/> a packed [n, k] weight takes.</summary>
    internal static long PackedSize(ScalarType dtype, int n, int k) =>
        dtype == ScalarType.BFloat16 ? Lib.PackedBf16Size(n, k) : Lib.PackedF32Size(n, k);

    /// <summary>Packs <paramref name="weight"/> [n, k] (CPU, contiguous, fp32 or bf16) into
    /// <paramref name="packed"/> (<see cref="PackedSize"/> elements of fp32 or, for bf16, int16).</summary>
    internal static void Pack(Tensor weight, Tensor packed)
    {
        int n = (int)weight.shape[0], k = (int)weight.shape[1];
        if (packed.dtype == ScalarType.Int16)
            Lib.PackBf16(Data(weight), weight.dtype == ScalarType.BFloat16 ? 1 : 0, n, k, Data(packed));
        else
            Lib.PackF32(Data(weight), n, k, Data(packed));
    }

    /// <summary>What a linear kernel does with x Wᵀ + bias (<c>Native/cpu_kernels.c</c>).</summary>
    internal enum LinearMode
    {
        Store = 0,
        Accumulate = 1,
        GeluTanh = 2,
        GeluErf = 3,
    }

    /// <summary>y = LN(x) Wᵀ + bias, y += LN(x) Wᵀ + bias, or y = gelu_tanh(LN(x) Wᵀ + bias) with a packed W, the
    /// LayerNorm only when <paramref name="norm"/> is given. x [m, k] fp32 rows (stride(1) = 1), y [m, n] fp32 rows.</summary>
    internal static void Linear(Tensor x, (Tensor Weight, Tensor Bias, double Eps)? norm, Tensor packed, int n, int k, Tensor? bias, Tensor y, LinearMode mode)
    {
        int m = (int)x.shape[0];
        int threads = get_num_threads();
        void* b = bias is null ? null : Data(bias);
        void* lnW = norm is { } ln ? Data(ln.Weight) : null, lnB = norm is { } ln2 ? Data(ln2.Bias) : null;
        float eps = (float)(norm?.Eps ?? 0);
        int rc = packed.dtype == ScalarType.Int16
            ? Lib.LinearBf16(m, n, k, Data(x), x.stride(0), lnW, lnB, eps, Data(packed), b, Data(y), y.stride(0), (int)mode, threads)
            : Lib.LinearF32(m, n, k, Data(x), x.stride(0), lnW, lnB, eps, Data(packed), b, Data(y), y.stride(0), (int)mode, threads);
        if (rc != 0) throw new OutOfMemoryException($"CPU kernels: no memory for a [{m}, {k}] copy of a linear layer's input");
    }

    /// <summary>
    /// y = [residual +] f(LN(x) Wᵀ + bias) at many rows (the ViT's linear layers) with a packed bf16 W:
    /// the rows split between the threads, each thread's in panels made bf16 once.
    /// </summary>
    /// <param name="x">[m, k] rows (stride(1) = 1): fp32, or bf16 when there is no norm and k is even</param>
    /// <param name="norm">LayerNorm weight and bias ([k] fp32, contiguous) and eps, applied to each row first</param>
    /// <param name="residual">[m, n] fp32 rows added to the output, or null; may be <paramref name="y"/></param>
    /// <param name="y">[m, n] rows, fp32 or bf16</param>
    /// <param name="mode">Store, GeluTanh or GeluErf</param>
    internal static void LinearRows(Tensor x, (Tensor Weight, Tensor Bias, double Eps)? norm, Tensor packed, int n, int k, Tensor? bias,
        Tensor? residual, Tensor y, LinearMode mode)
    {
        int m = (int)x.shape[0];
        void* b = bias is null ? null : Data(bias);
        void* res = residual is null ? null : Data(residual);
        int rc = Lib.LinearRowsBf16(m, n, k, Data(x), x.stride(0), x.dtype == ScalarType.BFloat16 ? 1 : 0,
            norm is { } ln ? Data(ln.Weight) : null, norm is { } ln2 ? Data(ln2.Bias) : null, (float)(norm?.Eps ?? 0),
            Data(packed), b, res, residual?.stride(0) ?? 0, Data(y), y.stride(0), y.dtype == ScalarType.BFloat16 ? 1 : 0, (int)mode, get_num_threads());
        if (rc == -1) throw new OutOfMemoryException($"CPU kernels: no memory for the bf16 panels of a [{m}, {k}] linear layer input");
        if (rc != 0) throw new ArgumentException($"CPU kernels: a bf16 [{m}, {k}] input needs an even k and no LayerNorm");
    }

    /// <summary>
    /// The ViT's multi-head attention in bf16, straight from its fused projection: softmax(Q Kᵀ / √D) V for
    /// every image and head, scores and softmax in fp32.
    /// </summary>
    /// <param name="qkv">[B·N, ≥ 3·H·D] bf16 rows (stride(1) = 1): each token's query, key and value, head j at
    /// columns j·D of each third</param>
    /// <returns>[B·N, H·D] bf16: the heads side by side, as the output projection takes them</returns>
    internal static Tensor VitAttention(Tensor qkv, int images, int tokens, int heads)
    {
        int c = (int)(qkv.shape[1] / 3), d = c / heads;
        if (qkv.dtype != ScalarType.BFloat16 || qkv.dim() != 2 || qkv.shape[0] != (long)images * tokens || qkv.stride(1) != 1 || d * heads != c || d % 2 != 0 || qkv.stride(0) % 2 != 0)
            throw new ArgumentException($"CPU kernels: attention of {images} x {tokens} tokens and {heads} heads from [{string.Join(", ", qkv.shape)}] {qkv.dtype} rows");
        var output = empty(qkv.shape[0], c, dtype: ScalarType.BFloat16);
        int rc = Lib.VitAttention(images, tokens, heads, d, Data(qkv), qkv.stride(0), Data(output), output.stride(0), (float)(1 / Math.Sqrt(d)), get_num_threads());
        if (rc != 0) throw new OutOfMemoryException($"CPU kernels: no memory for the attention of {tokens} tokens");
        return output;
    }

    /// <summary>
    /// Attention of one query per row and head: out[i, j·D..] = softmax(q_ij · K_ij[l] / √D) · V_ij[l].
    /// </summary>
    /// <param name="q">[B, ≥ H·D] fp32 rows, head j at columns j·D (stride(1) = 1)</param>
    /// <param name="keys">[B, H, L, D] contiguous, fp32 or bf16; <paramref name="values"/> the same</param>
    /// <param name="lengths">null: every row attends to all L keys. Else the cache's lengths: the row's new
    /// key and value (the columns C and 2C of <paramref name="q"/>, C = H·D) are written at that position
    /// first, and the query attends to positions 0 to it.</param>
    /// <param name="output">[B, H·D] fp32</param>
    internal static void Attend(Tensor q, Tensor keys, Tensor values, int[]? lengths, Tensor output)
    {
        var (b, h, count, d) = ((int)keys.shape[0], (int)keys.shape[1], (int)keys.shape[2], (int)keys.shape[3]);
        if (!keys.is_contiguous() || !values.is_contiguous() || !values.shape.SequenceEqual(keys.shape) || keys.dtype != values.dtype)
            throw new ArgumentException("CPU kernels: the keys and values must be contiguous and of one shape and dtype");
        int threads = get_num_threads();
        fixed (int* lens = lengths)
        {
            void* qp = Data(q);
            void* fresh = lengths is null ? null : (byte*)qp + (long)h * d * sizeof(float);
            Lib.Attend(b, h, d, qp, q.stride(0), fresh, (long)h * d, Data(keys), Data(values), keys.stride(0), keys.stride(1),
                keys.dtype == ScalarType.BFloat16 ? 1 : 0, lens, count, (float)(1 / Math.Sqrt(d)), Data(output), output.stride(0), threads);
        }
    }

    /// <summary>The indices of the <paramref name="k"/> largest values of each row of x [M, N] float32
    /// (stride(1) = 1): [M, k] int64, in no particular order. What topk gives, at a tenth of its time here.</summary>
    internal static Tensor TopK(Tensor x, int k)
    {
        var (m, n) = ((int)x.shape[0], (int)x.shape[1]);
        if (x.dtype != ScalarType.Float32 || x.stride(1) != 1 || k < 1 || k > n)
            throw new ArgumentException($"CPU kernels: top {k} of [{m}, {n}] {x.dtype} rows");
        var indices = empty(m, k, dtype: ScalarType.Int64);
        Lib.TopK(m, n, k, Data(x), x.stride(0), Data(indices), get_num_threads());
        return indices;
    }

    /// <summary>
    /// Each row's arg-max (the first column of its largest value; a NaN's when it has one, as torch.argmax) and the
    /// log-probability softmax gives it, -log Σ exp(x - max): NaN when the row has a NaN or an infinite maximum. One
    /// pass over the logits instead of libtorch's log-softmax and arg-max (about 4 ms at 32 rows of GPT-2's vocabulary).
    /// </summary>
    /// <param name="x">[M, N] float32 rows (stride(1) = 1)</param>
    internal static (long[] ArgMax, float[] LogProb) ArgMaxLogProbs(Tensor x)
    {
        var (m, n) = ((int)x.shape[0], (int)x.shape[1]);
        if (x.dtype != ScalarType.Float32 || x.dim() != 2 || x.stride(1) != 1 || x.device_type != TorchSharp.DeviceType.CPU || n < 1)
            throw new ArgumentException($"CPU kernels: arg-max of [{string.Join(", ", x.shape)}] {x.dtype} rows");
        var (argMax, sum) = (new long[m], new double[m]);
        fixed (long* a = argMax)
        fixed (double* s = sum)
            Lib.RowStats(m, n, Data(x), x.stride(0), a, s, get_num_threads());
        return (argMax, sum.Select(v => (float)-Math.Log(v)).ToArray());
    }

    /// <summary>
    /// The CPU's arithmetic peak on libtorch's threads: back-to-back 512-bit fused multiply-adds (fp32) or
    /// AVX512-BF16 dot products (bf16) with nothing to load, in GFLOP/s, the best of <paramref name="repeats"/>
    /// runs of about <paramref name="seconds"/> each. No GEMM can run faster here; NaN where the CPU lacks them.
    /// </summary>
    public static double PeakGflops(ScalarType dtype, double seconds = 0.2, int repeats = 3)
    {
        if (!Supports(dtype)) return double.NaN;
        int bf16 = dtype == ScalarType.BFloat16 ? 1 : 0, threads = get_num_threads();
        long iterations = 100_000;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Lib.PeakFlops(bf16, iterations, threads);
        iterations = Math.Max(iterations, (long)(iterations * seconds / Math.Max(watch.Elapsed.TotalSeconds, 1e-6)));
        double best = 0;
        for (int i = 0; i < repeats; i++)
        {
            watch.Restart();
            double flops = Lib.PeakFlops(bf16, iterations, threads);
            best = Math.Max(best, flops / watch.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }
}
