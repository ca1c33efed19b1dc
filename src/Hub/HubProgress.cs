namespace CaptionService.Hub;

/// <summary>How a pull is going: bytes of the files being downloaded (all of them together).</summary>
/// <param name="Repo">OWNER/NAME</param>
/// <param name="File">the file being transferred now</param>
/// <param name="Bytes">bytes done, counting what an earlier, interrupted run already had</param>
/// <param name="TotalBytes">bytes of every file this pull downloads</param>
/// <param name="BytesPerSecond">transfer rate so far in this run (0 until there is one)</param>
/// <param name="OtherProcess">true while another process holds the file's lock and downloads it (its progress is shown)</param>
public sealed record HubProgress(string Repo, string File, long Bytes, long TotalBytes, double BytesPerSecond, bool OtherProcess = false)
{
    public double Fraction => TotalBytes > 0 ? Math.Clamp((double)Bytes / TotalBytes, 0, 1) : 0;

    /// <summary>Time left at the current rate, when there is one.</summary>
    public TimeSpan? Remaining => BytesPerSecond > 0 ? TimeSpan.FromSeconds((TotalBytes - Bytes) / BytesPerSecond) : null;

    /// <summary>"43% (412.0 of 955.3 MB, 38.2 MB/s, 14 s left)".</summary>
    public override string ToString()
    {
        var text = FormattableString.Invariant($"{Fraction * 100:0}% ({Bytes / 1e6:0.0} of {TotalBytes / 1e6:0.0} MB");
        if (BytesPerSecond > 0) text += FormattableString.Invariant($", {BytesPerSecond / 1e6:0.0} MB/s");
        if (Remaining is TimeSpan left && Bytes < TotalBytes) text += FormattableString.Invariant($", {Math.Ceiling(left.TotalSeconds):0} s left");
        if (OtherProcess) text += ", by another process";
        return text + ")";
    }
}
