namespace CaptionService.Model;

/// <summary>
/// Holds garbage collections off while a piece of TorchSharp code that we cannot change (its
/// optimizers, which pass implicitly created Scalars to native code) runs: with no collection, no
/// finalizer can free one of those Scalars mid-call. See <see cref="ScalarSafety"/>.
/// </summary>
public static class NoGcRegion
{
    /// <param name="budget">Bytes the whole process may allocate before the runtime collects anyway.</param>
    public static void Run(Action action, long budget = 64L << 20)
    {
        bool started = false;
        try
        {
            started = System.Runtime.GCSettings.LatencyMode != System.Runtime.GCLatencyMode.NoGCRegion && GC.TryStartNoGCRegion(budget);
        }
        catch (ArgumentOutOfRangeException)
        {
            // A budget the GC cannot reserve: run unprotected rather than not at all.
        }
        try
        {
            action();
        }
        finally
        {
            // The region also ends by itself if the budget ran out; only end one that is still open.
            if (started && System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion)
                GC.EndNoGCRegion();
        }
    }
}
