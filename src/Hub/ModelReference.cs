using System.Text.RegularExpressions;

namespace CaptionService.Hub;

/// <summary>
/// A model on the Hugging Face Hub: <c>hf:OWNER/NAME</c> or <c>hf:OWNER/NAME@REVISION</c> (a branch, tag or
/// commit; default <c>main</c>). Owner and name follow the Hub's rules for repository ids; a revision may hold
/// slashes (<c>refs/pr/1</c>) but no <c>.</c> or <c>..</c> segment, since it becomes a path in the cache.
/// </summary>
public sealed partial record ModelReference(string Owner, string Name, string? Revision = null)
{
    public const string Prefix = "hf:";
    public const string Form = "hf:OWNER/NAME or hf:OWNER/NAME@REVISION (e.g. hf:nlpconnect/vit-gpt2-image-captioning)";

    /// <summary><c>OWNER/NAME</c>, the Hub's repository id.</summary>
    public string RepoId => $"{Owner}/{Name}";

    /// <summary>The revision asked for, <c>main</c> when none was.</summary>
    public string RevisionOrDefault => Revision ?? "main";

    /// <summary>True when <paramref name="revision"/> is a full commit hash (40 hex digits).</summary>
    public static bool IsCommit(string? revision) => revision is not null && CommitHash().IsMatch(revision);

    /// <summary>True for text that means to name a Hub model (it starts with <c>hf:</c>); it may still be malformed.</summary>
    public static bool IsHub(string? text) => text is not null && text.TrimStart().StartsWith(Prefix, StringComparison.OrdinalIgnoreCase);

    public static bool TryParse(string? text, out ModelReference? reference, out string error)
    {
        reference = null;
        text = text?.Trim() ?? "";
        if (!IsHub(text))
        {
            error = $"'{text}' is not a Hub reference: use {Form}";
            return false;
        }
        var body = text[Prefix.Length..];
        string? revision = null;
        int at = body.IndexOf('@');
        if (at >= 0) (body, revision) = (body[..at], body[(at + 1)..]);
        var parts = body.Split('/');
        if (parts.Length != 2)
        {
            error = $"'{text}': give the owner and the name of the repository: {Form}";
            return false;
        }
        foreach (var (part, what) in new[] { (parts[0], "owner"), (parts[1], "name") })
        {
            if (!RepoPart().IsMatch(part) || part.Contains("--") || part.Contains(".."))
            {
                error = $"'{text}': the {what} '{part}' is not a valid repository {what} (letters, digits, '-', '_' and '.', at most 96, " +
                    "not starting or ending with '-' or '.', no '--' or '..')";
                return false;
            }
        }
        if (revision is not null && (!RevisionText().IsMatch(revision) || revision.Split('/').Any(s => s is "" or "." or "..")))
        {
            error = $"'{text}': the revision '{revision}' is not a branch, tag or commit name (letters, digits, '.', '_', '-' and '/' between names)";
            return false;
        }
        reference = new ModelReference(parts[0], parts[1], revision);
        error = "";
        return true;
    }

    /// <exception cref="FormatException">a malformed reference, with what is wrong and the expected form</exception>
    public static ModelReference Parse(string text) =>
        TryParse(text, out var reference, out var error) ? reference! : throw new FormatException(error);

    public override string ToString() => Prefix + RepoId + (Revision is null ? "" : "@" + Revision);

    [GeneratedRegex(@"^[A-Za-z0-9_](?:[A-Za-z0-9_.\-]{0,94}[A-Za-z0-9_])?$")]
    private static partial Regex RepoPart();

    [GeneratedRegex(@"^[A-Za-z0-9._/\-]{1,255}$")]
    private static partial Regex RevisionText();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitHash();
}
