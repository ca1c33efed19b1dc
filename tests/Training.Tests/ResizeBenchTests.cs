using static CaptionService.Training.Tests.CliHarness;

namespace CaptionService.Training.Tests;

public sealed class ResizeBenchTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("captioner-resize-bench-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Bench_resize_prints_and_writes_its_own_section()
    {
        var md = Path.Combine(dir, "benchmarks.md");
        File.WriteAllText(md, "# Benchmarks\n\nHand-written.\n");
        var (code, output, error) = Run("bench", "resize", "--sizes", "60x40,33x90", "--target", "16", "--repeats", "1", "--out", md);
        Assert.True(code == 0, error + output);
        var text = File.ReadAllText(md);
        Assert.StartsWith("# Benchmarks\n\nHand-written.\n", text);
        Assert.Contains("<!-- captioner bench (resize): generated section begins -->", text);
        Assert.Contains("#### Resize to 16 x 16, ms per image (median)", text);
        Assert.Contains("| 60 x 40 |", text);
        Assert.Contains("| 33 x 90 |", text);

        (code, _, error) = Run("bench", "resize", "--sizes", "60by40", "--out", "-");
        Assert.Equal(2, code);
        Assert.Contains("--sizes: '60by40' is not WIDTHxHEIGHT", error);
    }
}
