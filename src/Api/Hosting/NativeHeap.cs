using System.Runtime.InteropServices;

namespace CaptionService.Api.Hosting;

/// <summary>
/// ImageSharp (without its pool) and libtorch's CPU tensors take their memory from the C heap. glibc
/// keeps freed blocks below its mmap threshold (which grows, up to 32 MiB, as large blocks are freed)
/// inside the heap for reuse: after a burst of large uploads the process stayed hundreds of MiB above
/// its idle size. <c>malloc_trim</c> gives every free page back; the service calls it when decoding
/// goes idle after large images (<see cref="Intake.DecodeGate"/>) and when the scheduler has been
/// idle for a second after work (<see cref="Batching.CaptionScheduler"/>), never on a busy path.
/// </summary>
public static class NativeHeap
{
    /// <summary>Returns the C heap's free memory to the system (glibc); false where there is no such call (not Linux, musl).</summary>
    public static bool Trim()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return MallocTrim(0) == 1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
