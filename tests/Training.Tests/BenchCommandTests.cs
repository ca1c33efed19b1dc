using CaptionService.Training.Bench;

using static CaptionService.Training.Tests.CliHarness;

namespace CaptionService.Training.Tests;

/// <summary><c>captioner bench --quick</c> on the tiny preset: every table is printed and written
/// into the generated section of the output file, and the hand-written rest of the file stays.
/// It seeds torch's global RNG, so it runs alone.</summary>
[Collection(SerialCollection.Name)]
public sealed class BenchCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("captioner-bench-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Quick_bench_on_tiny_prints_and_writes_every_table()
    {
        var md = Path.Combine(dir, "benchmarks.md");
        File.WriteAllText(md, "# Benchmarks\n\nHand-written notes.\n\n" + BenchReport.Begin + "\nold numbers\n" + BenchReport.End + "\n\n## After\n");
        var (code, output, error) = Run("bench", "--quick", "--preset", "tiny", "--device", "cpu", "--tokens", "3", "--batch-sizes", "1,2",
            "--leak-captions", "6", "--agreement-images", "4", "--out", md);
        Assert.True(code == 0, error + output);

        var text = File.ReadAllText(md);
        Assert.StartsWith("# Benchmarks\n\nHand-written notes.\n", text);
        Assert.EndsWith("## After\n", text);
        Assert.DoesNotContain("old numbers", text);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, BenchReport.Begin));
        foreach (var expected in new[]
        {
            "Raw matmul throughput", "seed's way (re-encode, full recompute)", "| tiny | fp32 | ours (encode once, cached cross K/V, KV cache) | 2 |",
            "| tiny | bf16 | ours (encode once, cached cross K/V, KV cache) | 1 |", "encoder forward", "decode step (cached)",
            "Lower precision against fp32", "Greedy captions identical to fp32's", "| demo-shapes | bf16 | 4 |",
            "Peak resident memory per batch size", "Live tensors do not grow",
        })
        {
            Assert.Contains(expected, text);
        }
        Assert.Contains("seed's way (re-encode, full recompute)", output);
        Assert.Contains("Live tensors do not grow", output);
        // --cpu-kernels both (the default): each precision on libtorch's ops and on the kernels, where this CPU has them.
        Assert.Contains("step / roofline", text);
        if (CaptionService.Model.Kernels.CpuKernels.Fp32)
        {
            Assert.Contains("| tiny | fp32 kernels | ours (encode once, cached cross K/V, KV cache) | 2 |", text);
            Assert.Contains("tiny fp32 batch 2: 2 of 2 captions on the CPU kernels are token-for-token libtorch's.", text);
        }
        else
        {
            Assert.Contains("tiny fp32: no run on the CPU kernels here (off: ", text);
        }
        if (CaptionService.Model.Kernels.CpuKernels.Bf16)
        {
            // bf16-mixed runs its encoder on the kernels too: its own utilization row, its own agreement row, and the peak.
            Assert.Contains("| tiny | bf16-mixed kernels | encoder forward |", text);
            Assert.Contains("tiny bf16-mixed: the encoder at batch 2, libtorch's ops and the kernels alternating (3 runs each): ", text);
            Assert.Contains("| demo-shapes | bf16-mixed kernels | 4 |", text);
            Assert.Matches(@"\| bf16 arithmetic peak \| - \| +\| \d+(\.\d)? \|", text);
        }
    }

    [Fact]
    public void A_bad_cpu_kernels_value_is_refused_by_name()
    {
        var (code, output, error) = Run("bench", "--quick", "--preset", "tiny", "--cpu-kernels", "maybe", "--out", "-");
        Assert.Equal(2, code);
        Assert.Contains("--cpu-kernels: expected on, off or both (got 'maybe')", error + output);
    }

    [Fact]
    public void A_run_on_another_device_keeps_its_own_section_beside_the_cpu_one()
    {
        var md = Path.Combine(dir, "benchmarks.md");
        File.WriteAllText(md, "# Benchmarks\n\n" + BenchReport.Begin + "\ncpu numbers\n" + BenchReport.End + "\n");
        Write(md, "cuda", "first gpu numbers");
        Write(md, "cuda", "second gpu numbers");

        var text = File.ReadAllText(md);
        Assert.Contains("cpu numbers", text);
        Assert.DoesNotContain("first gpu numbers", text);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(text, "second gpu numbers"));
        Assert.True(text.IndexOf(BenchReport.End, StringComparison.Ordinal) < text.IndexOf("<!-- captioner bench (cuda): generated section begins -->", StringComparison.Ordinal));
        Assert.EndsWith("second gpu numbers\n<!-- captioner bench (cuda): generated section ends -->\n", text);

        static void Write(string path, string section, string line)
        {
            var report = new BenchReport(section);
            report.Header.Add(line);
            report.WriteInto(path);
        }
    }
}
