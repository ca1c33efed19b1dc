using System.Text.RegularExpressions;

namespace CaptionService.Deploy.Tests;

/// <summary>.dockerignore as used here: patterns with <c>*</c> and <c>**/</c>; a match excludes everything under it. No <c>!</c> exceptions.</summary>
internal sealed class DockerIgnore
{
    private readonly List<Regex> patterns = [];

    public DockerIgnore(string path)
    {
        if (!File.Exists(path)) return;
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            Assert.False(line.StartsWith('!'), ".dockerignore: exceptions (!) are not understood by this test; keep the file simple");
            var pattern = Regex.Escape(line.TrimEnd('/').TrimStart('/'))
                .Replace(@"\*\*/", "(?:.*/)?")
                .Replace(@"\*\*", ".*")
                .Replace(@"\*", "[^/]*")
                .Replace(@"\?", "[^/]");
            patterns.Add(new Regex("^" + pattern + "$"));
        }
    }

    /// <summary>Whether a context-relative path (with '/') or any folder above it is excluded.</summary>
    public bool Excludes(string relative)
    {
        var parts = relative.Trim('/').Split('/');
        for (int n = 1; n <= parts.Length; n++)
        {
            var prefix = string.Join('/', parts.Take(n));
            if (patterns.Any(p => p.IsMatch(prefix))) return true;
        }
        return false;
    }
}
