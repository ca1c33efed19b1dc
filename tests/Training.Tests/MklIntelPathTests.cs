using System.Diagnostics;
using CaptionService.Model;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

using static CaptionService.Training.Tests.CliHarness;

namespace CaptionService.Training.Tests;

/// <summary>
/// The MKL Intel-path library is chosen once per process, before libtorch loads, so these tests run
/// the real <c>captioner</c> in child processes with it on and off.
/// </summary>
public sealed class MklIntelPathTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("mkl-intel-path-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void Captions_are_the_same_with_the_intel_path_on_and_off_and_inspect_says_which()
    {
        var ckpt = Path.Combine(dir, "tiny");
        Assert.Equal(0, Run("init", "--preset", "tiny", "--out", ckpt, "--seed", "5").Code);
        var images = Enumerable.Range(0, 6).Select(Noise).ToArray();

        var on = Captioner(null, ["caption", "--checkpoint", ckpt, .. images]);
        var off = Captioner("0", ["caption", "--checkpoint", ckpt, .. images]);
        Assert.Equal(6, on.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(on, off);

        var statusOff = Lines(Captioner("0", ["inspect", "--checkpoint", ckpt]))["mkl_intel_path"];
        Assert.Equal("off: turned off by CAPTIONER_MKL_INTEL_PATH=0", statusOff);
        var statusOn = Lines(Captioner(null, ["inspect", "--checkpoint", ckpt]))["mkl_intel_path"];
        bool applies = OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64
            && MklIntelPath.CpuVendor() != "GenuineIntel" && File.Exists(Path.Combine(AppContext.BaseDirectory, MklIntelPath.LibraryName));
        if (applies) Assert.StartsWith("on (", statusOn);
        else Assert.StartsWith("off: ", statusOn);
    }

    private string Noise(int seed)
    {
        var random = new Random(seed);
        using var image = new Image<Rgb24>(48, 40);
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
                image[x, y] = new Rgb24((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
        var path = Path.Combine(dir, $"noise{seed}.png");
        image.SaveAsPng(path);
        return path;
    }

    /// <summary>Runs the built captioner.dll with the setting (null: unset) and returns its output.</summary>
    private static string Captioner(string? setting, string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "captioner.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove(MklIntelPath.EnvironmentVariable);
        if (setting is not null) start.Environment[MklIntelPath.EnvironmentVariable] = setting;
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), "captioner did not finish");
        Assert.True(process.ExitCode == 0, $"captioner {string.Join(' ', args)} exited {process.ExitCode}: {error.Result}");
        return output;
    }
}
