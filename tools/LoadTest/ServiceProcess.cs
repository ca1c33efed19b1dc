using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CaptionService.LoadTest;

/// <summary>The real service in its own process on a free loopback port, configured through the
/// environment as in production; stopped (and its process tree killed) on dispose.</summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process process;

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> log;

    private ServiceProcess(Process process, Uri address, System.Collections.Concurrent.ConcurrentQueue<string> log) =>
        (this.process, Address, this.log) = (process, address, log);

    public Uri Address { get; }

    /// <summary>The service's process id (its memory is read from /proc, <see cref="ProcessMemory"/>).</summary>
    public int Id => process.Id;

    /// <summary>What the service printed so far (last lines), for failure reports.</summary>
    public string RecentOutput => string.Join('\n', log.TakeLast(20));

    public static async Task<ServiceProcess> StartAsync(string apiDll, IReadOnlyDictionary<string, string> settings, TimeSpan readyTimeout)
    {
        int port = FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(apiDll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        foreach (var (key, value) in settings) start.Environment[key] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start dotnet {apiDll}");
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        void Keep(string? line)
        {
            if (line is null) return;
            log.Enqueue(line);
            while (log.Count > 500) log.TryDequeue(out _);
        }
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var service = new ServiceProcess(process, new Uri($"http://127.0.0.1:{port}"), log);
        using var http = new HttpClient { BaseAddress = service.Address, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + readyTimeout;
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"the service exited with code {process.ExitCode}:\n{string.Join('\n', log.TakeLast(20))}");
            try
            {
                if ((await http.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK) return service;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline)
            {
                await service.DisposeAsync();
                throw new TimeoutException($"the service was not ready in {readyTimeout.TotalSeconds:0} s:\n{string.Join('\n', log.TakeLast(20))}");
            }
            await Task.Delay(200);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process.Dispose();
    }
}
