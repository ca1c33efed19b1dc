using System.Runtime.InteropServices;

namespace CaptionService.Training.Bench;

/// <summary>Resident memory of this process (Linux /proc), and its high-water mark, which can be reset.</summary>
public static class ProcessMemory
{
    public static bool Supported => OperatingSystem.IsLinux() && File.Exists("/proc/self/status");

    /// <summary>Current resident set, bytes.</summary>
    public static long Resident() => Read("VmRSS:");

    /// <summary>Peak resident set since start or the last <see cref="ResetPeak"/>, bytes.</summary>
    public static long Peak() => Read("VmHWM:");

    /// <summary>Returns freed heap memory to the system (glibc malloc_trim), collects the managed heap,
    /// then resets the high-water mark to the current resident set (writing 5 to /proc/self/clear_refs).</summary>
    public static void ResetPeak()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        try { _ = malloc_trim(0); }
        catch (EntryPointNotFoundException) { }
        catch (DllNotFoundException) { }
        File.WriteAllText("/proc/self/clear_refs", "5");
    }

    private static long Read(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field, StringComparison.Ordinal))
                return long.Parse(line[field.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        throw new InvalidOperationException($"/proc/self/status has no {field}");
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);
}
