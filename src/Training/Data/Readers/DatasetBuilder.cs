namespace CaptionService.Training.Data.Readers;

/// <summary>
/// What every reader shares: groups captions by image (first appearance order), trims and checks
/// captions, turns malformed records into errors naming file and line (or skips them when asked),
/// picks the image folder, and checks that the image files are there.
/// </summary>
internal sealed class DatasetBuilder(string source, DatasetFormat format, DatasetReadOptions options)
{
    private const int Examples = 5;

    private sealed class Entry(string id, string file, string? split, string where)
    {
        public string Id { get; } = id;
        public string File { get; } = file;
        public string? Split { get; } = split;
        public string Where { get; } = where;
        public List<string> Captions { get; } = [];
    }

    private readonly Dictionary<string, Entry> byId = new(StringComparer.Ordinal);
    private readonly List<Entry> order = [];
    private readonly List<string> skippedExamples = [];
    private int skipped;

    /// <summary>The annotation file, as given to the reader.</summary>
    public string Source { get; } = source;

    /// <summary>"file:line", the prefix of every message about a record.</summary>
    public string At(long line) => $"{Source}:{line}";

    /// <summary>A malformed record: an error, or (with <see cref="DatasetReadOptions.SkipMalformedLines"/>) counted and skipped.</summary>
    public void Malformed(string where, string problem)
    {
        if (!options.SkipMalformedLines)
            throw new InvalidDataException($"{where}: {problem}");
        skipped++;
        if (skippedExamples.Count < Examples) skippedExamples.Add($"{where}: {problem}");
    }

    /// <summary>Runs one record's reading; a <see cref="MalformedRecordException"/> inside becomes <see cref="Malformed"/>.</summary>
    public void Record(string where, Action read)
    {
        try { read(); }
        catch (MalformedRecordException e) { Malformed(where, e.Message); }
    }

    /// <summary>Reads the annotation file line by line: every non-blank line after the first
    /// <paramref name="skip"/> is one record, given with its "file:line".</summary>
    public void Lines(Action<string, string> read, int skip = 0)
    {
        long line = 0;
        foreach (var text in File.ReadLines(Source))
        {
            if (++line <= skip || text.Trim().Length == 0) continue;
            var where = At(line);
            Record(where, () => read(text, where));
        }
    }

    /// <summary>Declares an image (file name relative to the image folder, or absolute); false if malformed.</summary>
    public bool Image(string id, string file, string? split, string where)
    {
        if (string.IsNullOrWhiteSpace(id)) { Malformed(where, "empty image id"); return false; }
        if (string.IsNullOrWhiteSpace(file)) { Malformed(where, $"image {id}: empty file name"); return false; }
        split = string.IsNullOrWhiteSpace(split) ? null : split.Trim();
        if (byId.TryGetValue(id, out var known))
        {
            if (known.File != file) { Malformed(where, $"image {id} is {file} here but {known.File} at {known.Where}"); return false; }
            if (known.Split != split) { Malformed(where, $"image {id} is in split '{split}' here but '{known.Split}' at {known.Where}"); return false; }
            return true;
        }
        var entry = new Entry(id, file, split, where);
        byId.Add(id, entry);
        order.Add(entry);
        return true;
    }

    /// <summary>Adds a caption of an image already declared; trims it; an empty one is malformed.</summary>
    public void Caption(string id, string? caption, string where)
    {
        if (!byId.TryGetValue(id, out var entry)) { Malformed(where, $"caption of unknown image id {id}"); return; }
        var text = caption?.Trim() ?? "";
        if (text.Length == 0) { Malformed(where, $"empty caption for image {id}"); return; }
        entry.Captions.Add(text);
    }

    /// <summary>Declares the image if new, then adds the caption: the usual one-line-per-caption formats.</summary>
    public void Add(string id, string file, string? caption, string? split, string where)
    {
        if (Image(id, file, split, where)) Caption(id, caption, where);
    }

    /// <summary>
    /// Resolves every image file against the image folder and builds the dataset. The folder is
    /// <see cref="DatasetReadOptions.ImageRoot"/> if given, else the candidate in which most of the
    /// first images exist (ties: the earlier candidate), else the first candidate that is a folder.
    /// Images without captions are left out. When none of the images is found the reading fails,
    /// naming the folders it looked in.
    /// </summary>
    public CaptionDataset Build(IEnumerable<string> rootCandidates)
    {
        var images = order.Where(e => e.Captions.Count > 0).ToList();
        var candidates = options.ImageRoot is not null
            ? [Path.GetFullPath(options.ImageRoot)]
            : rootCandidates.Select(Path.GetFullPath).Distinct().ToList();
        var root = ChooseRoot(candidates, images);
        var kept = new List<CaptionedImage>(images.Count);
        var missing = new List<string>();
        int missingCaptions = 0;
        foreach (var e in images)
        {
            var path = Path.GetFullPath(Path.Combine(root, e.File));
            if (File.Exists(path)) kept.Add(new CaptionedImage(e.Id, path, e.Captions, e.Split));
            else
            {
                missing.Add(path);
                missingCaptions += e.Captions.Count;
            }
        }
        if (missing.Count > 0 && (options.FailOnMissingImages || kept.Count == 0))
            throw new FileNotFoundException(
                (kept.Count == 0 ? $"{Source}: none of its {images.Count} images was found" : $"{Source}: {missing.Count} of {images.Count} image files are missing")
                + $" (e.g. {string.Join(", ", missing.Take(3))}); looked in {string.Join(", ", candidates)}. "
                + "Give the folder the file's image names are relative to with --image-root DIR (see the README's dataset layouts)",
                missing[0]);
        var report = new DatasetReport(kept.Sum(i => i.Captions.Count), missing.Count, missing.Take(Examples).ToList(), skipped,
            skippedExamples, missingCaptions, root, candidates);
        return new CaptionDataset(Path.GetFullPath(Source), format, kept, report);
    }

    private static string ChooseRoot(List<string> candidates, List<Entry> images)
    {
        if (candidates.Count == 1) return candidates[0];
        var sample = images.Take(20).ToList();
        string? best = null;
        int bestHits = 0;
        foreach (var dir in candidates.Where(Directory.Exists))
        {
            int hits = sample.Count(e => File.Exists(Path.Combine(dir, e.File)));
            if (hits > bestHits) (best, bestHits) = (dir, hits);
        }
        return best ?? candidates.FirstOrDefault(Directory.Exists) ?? candidates[0];
    }
}
