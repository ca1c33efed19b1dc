using static TorchSharp.torch;

namespace CaptionService.Model.Tests;

public class TorchRuntimeTests
{
    [Fact]
    public void Auto_picks_bf16_exactly_when_the_kernel_lists_a_native_bf16_feature()
    {
        // The kernel's own reading of CPUID, independent of ours.
        var flags = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal))?.Split(' ') ?? []
            : null;
        var (precision, reason) = TorchRuntime.ResolvePrecision("auto", CPU);
        Assert.StartsWith("auto: ", reason);
        if (flags is null) return; // not Linux: nothing independent to compare with
        bool native = flags.Contains("avx512_bf16") || flags.Contains("amx_bf16");
        Assert.Equal(native ? Precision.Bf16 : Precision.Fp32, precision);
        Assert.Equal(native, TorchRuntime.CpuBf16Feature() is not null);
    }

    [Theory]
    [InlineData("fp32", Precision.Fp32)]
    [InlineData(" BF16 ", Precision.Bf16)]
    public void A_named_dtype_is_taken_as_configured(string spec, Precision expected)
    {
        Assert.Equal((expected, "configured"), TorchRuntime.ResolvePrecision(spec, CPU));
    }

    [Theory]
    [InlineData("fp8", "not one of auto, fp32, bf16, fp16")]
    [InlineData("fp16", "on CPU use bf16 or fp32")]
    public void A_bad_dtype_says_what_to_pick(string spec, string message)
    {
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => TorchRuntime.ResolvePrecision(spec, CPU)).Message);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(6, 6)]
    [InlineData(64, 8)]
    public void Malloc_arenas_are_one_per_core_at_least_two_at_most_eight(int processors, int arenas)
    {
        Assert.Equal(arenas, TorchRuntime.MallocArenaLimit(processors));
    }

    [Fact]
    public void The_process_asks_glibc_for_the_arena_limit_unless_the_environment_sets_one()
    {
        TorchRuntime.PrepareProcess();
        if (!OperatingSystem.IsLinux()) return; // glibc only
        var expected = Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is { } set
            ? $"{set} (MALLOC_ARENA_MAX)"
            : $"at most {TorchRuntime.MallocArenaLimit(Environment.ProcessorCount)} for arenas made from now on";
        Assert.StartsWith(expected, TorchRuntime.MallocArenas);
    }
}
