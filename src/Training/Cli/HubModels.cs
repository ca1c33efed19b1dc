using CaptionService.Hub;
using Spectre.Console;

namespace CaptionService.Training.Cli;

/// <summary>
/// Where <c>captioner</c> gets a model named <c>hf:OWNER/NAME[@REVISION]</c>: the Hugging Face Hub, through
/// huggingface_hub's cache and settings (HF_ENDPOINT, HF_TOKEN, HF_HOME, HF_HUB_CACHE, HF_HUB_OFFLINE), with a
/// progress bar (bytes, rate, time left) on a terminal and plain lines when stderr is redirected. A directory is
/// returned as it is. Interrupted (Ctrl+C, a dropped connection), a download resumes on the next run.
/// </summary>
internal static class HubModels
{
    /// <summary>The environment the Hub settings are read from; tests set their own for the current flow.</summary>
    internal static readonly AsyncLocal<Func<string, string?>?> Environment = new();

    /// <summary>The folder to load from (a directory: its full path), and the resolved model.</summary>
    public static ResolvedModel Resolve(string reference, ModelPurpose purpose, TextWriter error)
    {
        if (!ModelReference.IsHub(reference))
        {
            var full = Path.GetFullPath(reference);
            return new ResolvedModel(full, Path.GetFileName(Path.TrimEndingDirectorySeparator(full)), null);
        }
        var settings = HubSettings.From(Environment.Value ?? System.Environment.GetEnvironmentVariable);
        using var source = new ModelSource(settings, warn: message => error.WriteLine($"warning: {message}"));
        return ShowProgress(error, progress => source.ResolveAsync(reference, purpose, progress, CancellationToken.None));
    }

    /// <summary>Describes a resolved model for "source:" lines: the folder, and for a Hub model its repository and commit.</summary>
    public static string Describe(ResolvedModel model) =>
        model.Hub is { } hub ? $"hf:{hub.Repo}@{hub.Commit} ({model.Directory})" : model.Directory;

    private static T ShowProgress<T>(TextWriter error, Func<IProgress<HubProgress>, Task<T>> work)
    {
        bool terminal = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        if (!terminal) return work(new PlainLines(error)).GetAwaiter().GetResult();

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(context => work(new Bar(context)))
            .GetAwaiter().GetResult();
    }

    /// <summary>One Spectre task for the pull, created when the first bytes are reported (nothing shows for a cached model).</summary>
    private sealed class Bar(ProgressContext context) : IProgress<HubProgress>
    {
        private ProgressTask? task;

        public void Report(HubProgress p)
        {
            task ??= context.AddTask(p.Repo, maxValue: Math.Max(1, p.TotalBytes));
            task.MaxValue = Math.Max(1, p.TotalBytes);
            task.Value = p.Bytes;
            task.Description = Markup.Escape($"{p.Repo} {p.File}{(p.OtherProcess ? " (another process)" : "")}");
        }
    }

    /// <summary>"downloading OWNER/NAME: FILE 40% (...)" every 10% or 10 seconds.</summary>
    private sealed class PlainLines(TextWriter error) : IProgress<HubProgress>
    {
        private readonly System.Diagnostics.Stopwatch sinceLine = new();
        private (string File, int Tenth) last;

        public void Report(HubProgress p)
        {
            var now = (p.File, (int)(p.Fraction * 10));
            if (now == last && sinceLine.IsRunning && sinceLine.Elapsed < TimeSpan.FromSeconds(10)) return;
            last = now;
            sinceLine.Restart();
            error.WriteLine($"downloading {p.Repo}: {p.File} {p}");
        }
    }
}
