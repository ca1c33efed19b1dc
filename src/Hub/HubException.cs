namespace CaptionService.Hub;

/// <summary>Why a model could not be had from the Hub.</summary>
public enum HubErrorKind
{
    /// <summary>No such repository, or a private one the token cannot see (X-Error-Code RepoNotFound).</summary>
    RepositoryNotFound,
    /// <summary>A gated repository whose conditions the token's account has not accepted (GatedRepo).</summary>
    Gated,
    /// <summary>No such branch, tag or commit (RevisionNotFound).</summary>
    RevisionNotFound,
    /// <summary>No such file at that revision (EntryNotFound), or none of the files a model needs.</summary>
    FileNotFound,
    /// <summary>The Hub refused the token.</summary>
    Unauthorized,
    /// <summary>HF_HUB_OFFLINE is set and the cache does not have it.</summary>
    Offline,
    /// <summary>A downloaded file did not match its checksum, twice.</summary>
    Checksum,
    /// <summary>The endpoint could not be reached, or kept failing (5xx, 429) through every retry.</summary>
    Unavailable,
    /// <summary>An answer that does not follow the Hub's protocol.</summary>
    Protocol,
}

/// <summary>A permanent failure, with a one-line message that says what to do about it.</summary>
public sealed class HubException(HubErrorKind kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public HubErrorKind Kind { get; } = kind;
}
