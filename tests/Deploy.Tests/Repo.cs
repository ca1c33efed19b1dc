using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CaptionService.Deploy.Tests;

/// <summary>The repository this test runs from, and small process helpers.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(string relative) => Path.Combine(Root, relative.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>A folder under the (gitignored) artifacts/ folder, emptied first.</summary>
    public static string FreshArtifactsDir(string name)
    {
        var dir = PathOf("artifacts/" + name);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "CaptionService.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No CaptionService.sln above {AppContext.BaseDirectory}");
    }

    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Runs <paramref name="command"/> with /bin/sh, its output appended to <paramref name="log"/>.
    /// Output goes to a file, not a pipe: build servers that outlive the command keep no pipe of ours open.
    /// </summary>
    public static Process StartShell(string command, string workingDirectory, string log, IDictionary<string, string>? env = null)
    {
        var start = new ProcessStartInfo("/bin/sh") { WorkingDirectory = workingDirectory, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"exec >>'{log}' 2>&1; {command}");
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        foreach (var (key, value) in env ?? new Dictionary<string, string>()) start.Environment[key] = value;
        return Process.Start(start) ?? throw new InvalidOperationException($"could not start: {command}");
    }

    /// <summary>Runs a shell command to the end; returns its exit code (-1 on timeout, after killing it).</summary>
    public static async Task<int> RunShellAsync(string command, string workingDirectory, string log, TimeSpan timeout, IDictionary<string, string>? env = null)
    {
        using var process = StartShell(command, workingDirectory, log, env);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
            return process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            File.AppendAllText(log, $"\n[test] timed out after {timeout}\n");
            return -1;
        }
    }

    public static string Tail(string file, int lines = 40) =>
        File.Exists(file) ? string.Join('\n', File.ReadLines(file).TakeLast(lines)) : $"({file} does not exist)";
}
