using System.Globalization;

namespace CaptionService.LoadTest;

/// <summary>Another process's resident memory, from /proc (Linux).</summary>
public static class ProcessMemory
{
    /// <summary>Resident set now (VmRSS), MiB.</summary>
    public static double ResidentMiB(int pid) => Field(pid, "VmRSS:");

    /// <summary>The highest resident set since the last <see cref="ResetPeak"/> (VmHWM), MiB.</summary>
    public static double PeakMiB(int pid) => Field(pid, "VmHWM:");

    /// <summary>Resets the kernel's high-water mark of the resident set (writes 5 to clear_refs).</summary>
    public static void ResetPeak(int pid) => File.WriteAllText($"/proc/{pid}/clear_refs", "5");

    private static double Field(int pid, string name)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith(name, StringComparison.Ordinal))
                return long.Parse(line[name.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
        throw new InvalidOperationException($"/proc/{pid}/status has no {name}");
    }
}
