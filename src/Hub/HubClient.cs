using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace CaptionService.Hub;

/// <summary>The files of one revision, as <c>/api/models/{repo}/revision/{revision}</c> lists them.</summary>
public sealed record RepoRevision(string Commit, IReadOnlyList<string> Files);

/// <summary>What <c>HEAD {endpoint}/{repo}/resolve/{revision}/{file}</c> says about a file.</summary>
/// <param name="ETag">the blob id: the sha256 of a large (LFS) file's content, else the git blob sha1</param>
/// <param name="Location">where the bytes are: the LFS redirect's target, or the resolve URL itself</param>
public sealed record FileMetadata(string File, string Commit, string ETag, long Size, Uri Location);

/// <summary>How transient failures (connection errors, 5xx, 429, time-outs) are retried: <paramref name="Attempts"/>
/// tries with delays doubling from <paramref name="FirstDelay"/> up to <paramref name="MaxDelay"/> (or the server's Retry-After).
/// A download that made progress before failing starts its count again.</summary>
public sealed record RetryPolicy(int Attempts, TimeSpan FirstDelay, TimeSpan MaxDelay)
{
    public static RetryPolicy Default { get; } = new(5, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(16));

    public TimeSpan DelayBefore(int retry, TimeSpan? retryAfter)
    {
        var backoff = TimeSpan.FromTicks(Math.Min(MaxDelay.Ticks, FirstDelay.Ticks << Math.Min(retry - 1, 20)));
        return retryAfter is TimeSpan server && server > backoff ? TimeSpan.FromTicks(Math.Min(server.Ticks, TimeSpan.FromMinutes(1).Ticks)) : backoff;
    }
}

/// <summary>
/// The Hugging Face Hub's HTTP protocol as huggingface_hub speaks it: revision info from the API, file metadata
/// from a HEAD on <c>resolve</c> (redirects are followed by hand: relative ones, as for a renamed repository;
/// an absolute one is where a large file's bytes are), and downloads streamed to a file that resume with
/// <c>Range</c> and are checked against the blob id (sha256 for LFS files, the git blob sha1 otherwise).
/// The token goes to the endpoint's host only. Failures become one-line <see cref="HubException"/>s.
/// </summary>
public sealed class HubClient : IDisposable
{
    private const int BufferSize = 1 << 20;
    private readonly HttpClient http;

    public HubClient(HubSettings settings, RetryPolicy? retry = null, HttpMessageHandler? handler = null)
    {
        Settings = settings;
        Retry = retry ?? RetryPolicy.Default;
        http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // the LFS redirect carries the metadata, and the token must not follow it elsewhere
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = settings.MetadataTimeout,
        }, disposeHandler: true)
        { Timeout = Timeout.InfiniteTimeSpan }; // per request and per read instead (a large download takes long)
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("CaptionService", "1.0"));
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("(hf_hub-compatible)"));
    }

    public HubSettings Settings { get; }
    public RetryPolicy Retry { get; }

    /// <summary>The commit a revision points to and the files there.</summary>
    public async Task<RepoRevision> GetRevisionAsync(ModelReference repo, CancellationToken cancel)
    {
        var url = new Uri($"{Settings.Endpoint}api/models/{repo.Owner}/{repo.Name}/revision/{Uri.EscapeDataString(repo.RevisionOrDefault)}");
        var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, url), repo, null, Settings.MetadataTimeout, cancel, redirectsAreAnswers: true);
        for (int hop = 0; response.Headers.Location is { } next && (int)response.StatusCode is >= 300 and < 400; hop++)
        {
            response.Dispose(); // a renamed repository: the API redirects to its new name
            url = new Uri(url, next);
            if (hop >= 5 || Uri.Compare(url, Settings.Endpoint, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) != 0)
                throw new HubException(HubErrorKind.Protocol, $"{repo}: the revision info redirects to {url}, away from {Settings.Endpoint}");
            var current = url;
            response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, current), repo, null, Settings.MetadataTimeout, cancel, redirectsAreAnswers: true);
        }
        using var _ = response;
        try
        {
            using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancel), cancellationToken: cancel);
            var root = json.RootElement;
            var sha = root.GetProperty("sha").GetString() ?? throw new KeyNotFoundException("sha");
            var files = root.TryGetProperty("siblings", out var siblings)
                ? siblings.EnumerateArray().Select(s => s.GetProperty("rfilename").GetString()!).ToList()
                : [];
            if (!ModelReference.IsCommit(sha)) throw new FormatException($"sha '{sha}' is not a commit hash");
            return new RepoRevision(sha, files);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new HubException(HubErrorKind.Protocol, $"{repo}: {url} did not answer with the Hub's revision info ({e.Message})", e);
        }
    }

    /// <summary>HEAD on the file's resolve URL at a revision (best a commit, so that all files of a model agree).</summary>
    public async Task<FileMetadata> GetMetadataAsync(ModelReference repo, string revision, string file, CancellationToken cancel)
    {
        var url = ResolveUrl(repo, revision, file);
        for (int hop = 0; ; hop++)
        {
            var current = url;
            using var response = await SendAsync(() =>
            {
                var request = new HttpRequestMessage(HttpMethod.Head, current);
                request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity")); // sizes of the bytes as stored
                return request;
            }, repo, file, Settings.MetadataTimeout, cancel, redirectsAreAnswers: true);

            var headers = response.Headers;
            var location = headers.Location;
            bool redirect = (int)response.StatusCode is >= 300 and < 400;
            if (redirect && location is null) throw Protocol(repo, file, $"{current} redirected without a Location");
            // A relative redirect without the LFS headers is a renamed repository: follow it, as huggingface_hub does.
            if (redirect && !location!.IsAbsoluteUri && Header(headers, "X-Linked-Etag") is null)
            {
                if (hop >= 10) throw Protocol(repo, file, "too many redirects");
                url = new Uri(current, location);
                continue;
            }

            var commit = Header(headers, "X-Repo-Commit") ?? throw Protocol(repo, file, $"{current} sent no X-Repo-Commit: is {Settings.Endpoint} a Hugging Face Hub?");
            var etag = Header(headers, "X-Linked-Etag") ?? headers.ETag?.Tag ?? Header(headers, "ETag")
                ?? throw Protocol(repo, file, $"{current} sent no ETag");
            long? size = long.TryParse(Header(headers, "X-Linked-Size"), out long linked) ? linked : response.Content.Headers.ContentLength;
            if (size is not long bytes || bytes < 0) throw Protocol(repo, file, $"{current} told no size");
            return new FileMetadata(file, commit, NormalizeETag(etag), bytes, redirect ? new Uri(current, location!) : current);
        }
    }

    /// <summary>
    /// Brings <paramref name="incomplete"/> to the file's full size, resuming from what it holds with a Range request,
    /// retrying transient failures, and checks the whole against the blob id.
    /// </summary>
    /// <param name="progress">bytes added to the file (after a restart from zero, negative by what was discarded)</param>
    /// <exception cref="ChecksumMismatchException">complete but not the blob it should be (the file is left for the caller to discard)</exception>
    public async Task DownloadAsync(ModelReference repo, FileMetadata file, string incomplete, Action<long> progress, CancellationToken cancel)
    {
        using var hash = BlobHash.For(file.ETag, file.Size);
        long length = LengthOf(incomplete);
        if (length > file.Size) { Truncate(incomplete, progress, length); length = 0; }
        await hash.RestartFromAsync(incomplete, length, cancel); // what an interrupted run left, resumed below
        int failures = 0;
        while (length < file.Size)
        {
            long before = length;
            try
            {
                length = await TransferAsync(repo, file, incomplete, length, hash, progress, cancel);
                if (length < file.Size) throw new TransientException($"the connection closed after {length - before:N0} of {file.Size - before:N0} bytes", null);
            }
            catch (TransientException e)
            {
                length = LengthOf(incomplete); // the hash has seen exactly what was written
                if (length > before) failures = 0; // progress: the count starts again
                if (++failures >= Retry.Attempts) throw Unavailable(repo, file.File, e);
                await Task.Delay(Retry.DelayBefore(failures, e.RetryAfter), cancel);
            }
        }
        var digest = hash.Finish();
        if (digest is not null && !digest.Equals(file.ETag, StringComparison.OrdinalIgnoreCase))
            throw new ChecksumMismatchException(file.ETag, digest);
    }

    private static long LengthOf(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    /// <summary>One GET of the bytes from <paramref name="offset"/> on, appended to the file. Returns the file's length after.</summary>
    private async Task<long> TransferAsync(ModelReference repo, FileMetadata file, string incomplete, long offset, BlobHash hash,
        Action<long> progress, CancellationToken cancel)
    {
        var url = file.Location;
        HttpResponseMessage? response = null;
        try
        {
            for (int hop = 0; ; hop++)
            {
                var request = new HttpRequestMessage(HttpMethod.Get, url);
                request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
                if (offset > 0) request.Headers.Range = new RangeHeaderValue(offset, null);
                Authorize(request);
                response = await SendOnceAsync(request, Settings.MetadataTimeout, cancel);
                if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { } next && hop < 5)
                {
                    url = new Uri(url, next);
                    response.Dispose();
                    continue;
                }
                break;
            }

            switch (response.StatusCode)
            {
                case HttpStatusCode.PartialContent when response.Content.Headers.ContentRange?.From == offset:
                    break;
                case HttpStatusCode.OK or HttpStatusCode.PartialContent: // the Range was ignored (or answered from elsewhere): start over
                    if (offset > 0) Truncate(incomplete, progress, offset);
                    offset = 0;
                    await hash.RestartFromAsync(incomplete, 0, cancel);
                    if (response.StatusCode == HttpStatusCode.PartialContent) throw new TransientException("a Range answer that started elsewhere", null);
                    break;
                case HttpStatusCode.RequestedRangeNotSatisfiable when offset == file.Size:
                    return offset;
                default:
                    throw Failure(response, repo, file.File);
            }

            await using var output = new FileStream(incomplete, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 1);
            await using var body = await response.Content.ReadAsStreamAsync(cancel);
            var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
            try
            {
                long length = offset;
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                while (true)
                {
                    stall.CancelAfter(Settings.DownloadTimeout);
                    int n;
                    try { n = await body.ReadAsync(buffer.AsMemory(0, BufferSize), stall.Token); }
                    catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                    {
                        throw new TransientException($"no data for {Settings.DownloadTimeout.TotalSeconds:0} s (HF_HUB_DOWNLOAD_TIMEOUT)", null);
                    }
                    catch (Exception e) when (e is IOException or HttpRequestException && !cancel.IsCancellationRequested)
                    {
                        throw new TransientException(e.InnerException?.Message ?? e.Message, null, e); // a reset connection; a full disk is not retried
                    }
                    if (n == 0) return length;
                    if (length + n > file.Size) throw new TransientException($"more bytes than the {file.Size:N0} announced", null);
                    await output.WriteAsync(buffer.AsMemory(0, n), cancel);
                    hash.Append(buffer.AsSpan(0, n));
                    length += n;
                    progress(n);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        finally
        {
            response?.Dispose();
        }
    }

    private static void Truncate(string path, Action<long> progress, long had)
    {
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write)) stream.SetLength(0);
        progress(-had);
    }

    /// <summary>Sends with retries for transient failures; permanent failures throw <see cref="HubException"/>.</summary>
    /// <param name="redirectsAreAnswers">3xx is a result (HEAD on resolve), not a failure</param>
    private async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> create, ModelReference repo, string? file, TimeSpan timeout,
        CancellationToken cancel, bool redirectsAreAnswers = false)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                var request = create();
                Authorize(request);
                var response = await SendOnceAsync(request, timeout, cancel);
                int status = (int)response.StatusCode;
                if (status is >= 200 and < 300 || redirectsAreAnswers && status is >= 300 and < 400) return response;
                using (response) throw Failure(response, repo, file);
            }
            catch (TransientException e) when (attempt < Retry.Attempts)
            {
                await Task.Delay(Retry.DelayBefore(attempt, e.RetryAfter), cancel);
            }
            catch (TransientException e)
            {
                throw Unavailable(repo, file, e);
            }
        }
    }

    /// <summary>One request with a time limit for the answer's headers; connection failures and time-outs are transient.</summary>
    private async Task<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, TimeSpan timeout, CancellationToken cancel)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        limit.CancelAfter(timeout);
        try
        {
            return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, limit.Token);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            throw new TransientException($"no answer from {request.RequestUri!.GetLeftPart(UriPartial.Authority)} within {timeout.TotalSeconds:0} s", null);
        }
        catch (HttpRequestException e)
        {
            throw new TransientException(e.InnerException?.Message ?? e.Message, null, e);
        }
        finally
        {
            request.Dispose();
        }
    }

    private void Authorize(HttpRequestMessage request)
    {
        // Only the endpoint gets the token: a large file's bytes come from a CDN with a signed URL.
        if (Settings.Token is { } token && Uri.Compare(request.RequestUri, Settings.Endpoint, UriComponents.SchemeAndServer, UriFormat.Unescaped,
                StringComparison.OrdinalIgnoreCase) == 0)
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    }

    private Uri ResolveUrl(ModelReference repo, string revision, string file) =>
        new($"{Settings.Endpoint}{repo.Owner}/{repo.Name}/resolve/{Uri.EscapeDataString(revision)}/" +
            string.Join('/', file.Split('/').Select(Uri.EscapeDataString)));

    /// <summary>A failed answer: transient (5xx, 429, 408) or a one-line permanent error from X-Error-Code.</summary>
    private Exception Failure(HttpResponseMessage response, ModelReference repo, string? file)
    {
        int status = (int)response.StatusCode;
        if (status is >= 500 or 429 or 408)
            return new TransientException($"{status} {response.ReasonPhrase}", RetryAfter(response));
        var code = Header(response.Headers, "X-Error-Code");
        var serverMessage = Header(response.Headers, "X-Error-Message");
        var page = $"{Settings.Endpoint}{repo.RepoId}";
        bool anonymous = Settings.Token is null;
        return code switch
        {
            "RepoNotFound" => new HubException(HubErrorKind.RepositoryNotFound, anonymous
                ? $"{repo}: repository not found on {Settings.Endpoint.Host} (a private repository needs HF_TOKEN set to a token that can read it)"
                : $"{repo}: repository not found on {Settings.Endpoint.Host}, or the token from {Settings.TokenSource} cannot read it"),
            "GatedRepo" => new HubException(HubErrorKind.Gated, anonymous
                ? $"{repo}: a gated repository: accept its conditions at {page} and set HF_TOKEN to a token of that account"
                : $"{repo}: a gated repository, and the token from {Settings.TokenSource} has not been granted access: ask for it at {page}"),
            "RevisionNotFound" => new HubException(HubErrorKind.RevisionNotFound,
                $"{repo}: revision '{repo.RevisionOrDefault}' not found (give a branch, tag or commit of {page})"),
            "EntryNotFound" => new HubException(HubErrorKind.FileNotFound, $"{repo}: no file '{file}' at revision '{repo.RevisionOrDefault}'"),
            _ when status == 401 => new HubException(HubErrorKind.Unauthorized, anonymous
                ? $"{repo}: {Settings.Endpoint.Host} wants a token (401{Say(serverMessage)}); set HF_TOKEN"
                : $"{repo}: {Settings.Endpoint.Host} refused the token from {Settings.TokenSource} (401{Say(serverMessage)})"),
            _ when status == 404 && file is null => new HubException(HubErrorKind.RepositoryNotFound, $"{repo}: repository not found on {Settings.Endpoint.Host}"),
            _ when status == 404 => new HubException(HubErrorKind.FileNotFound, $"{repo}: no file '{file}' at revision '{repo.RevisionOrDefault}'"),
            _ => new HubException(HubErrorKind.Protocol, $"{repo}: {response.RequestMessage?.RequestUri} answered {status} {response.ReasonPhrase}{Say(serverMessage)}"),
        };
    }

    private static string Say(string? message) => message is null ? "" : ": " + message.ReplaceLineEndings(" ");

    private HubException Unavailable(ModelReference repo, string? file, TransientException e) => new(HubErrorKind.Unavailable,
        $"{repo}: {(file is null ? "" : file + ": ")}{Settings.Endpoint.Host} failed {Retry.Attempts} times ({e.Message}); " +
        "check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use cached models only", e);

    private static HubException Protocol(ModelReference repo, string file, string message) => new(HubErrorKind.Protocol, $"{repo}: {file}: {message}");

    private static TimeSpan? RetryAfter(HttpResponseMessage response) =>
        response.Headers.RetryAfter is { } r ? r.Delta ?? (r.Date is { } date ? date - DateTimeOffset.UtcNow : null) : null;

    private static string? Header(HttpResponseHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    /// <summary>Quotes and a weak marker off: <c>W/"abc"</c> -> <c>abc</c>.</summary>
    internal static string NormalizeETag(string etag) => etag.Trim().Replace("W/", "", StringComparison.Ordinal).Trim('"');

    public void Dispose() => http.Dispose();

    /// <summary>A failure worth another try.</summary>
    private sealed class TransientException(string message, TimeSpan? retryAfter, Exception? inner = null) : Exception(message, inner)
    {
        public TimeSpan? RetryAfter { get; } = retryAfter;
    }
}

/// <summary>A complete download whose content is not the blob its id names.</summary>
public sealed class ChecksumMismatchException(string expected, string actual)
    : Exception($"the content's hash is {actual}, not {expected}")
{
    public string Expected { get; } = expected;
    public string Actual { get; } = actual;
}

/// <summary>The blob id of the content as it streams by: sha256 for a 64-hex id (LFS), the git blob sha1
/// (<c>sha1("blob {size}\0" + content)</c>) for a 40-hex id, nothing to check for any other id.</summary>
internal sealed class BlobHash : IDisposable
{
    private readonly HashAlgorithmName? algorithm;
    private readonly long size;
    private IncrementalHash? hash;

    private BlobHash(HashAlgorithmName? algorithm, long size) => (this.algorithm, this.size) = (algorithm, size);

    public static BlobHash For(string etag, long size) => new(
        etag.Length == 64 && etag.All(char.IsAsciiHexDigit) ? HashAlgorithmName.SHA256
        : etag.Length == 40 && etag.All(char.IsAsciiHexDigit) ? HashAlgorithmName.SHA1 : null, size);

    /// <summary>Starts over and feeds the file's first <paramref name="length"/> bytes (what an earlier attempt wrote).</summary>
    public async Task<long> RestartFromAsync(string path, long length, CancellationToken cancel)
    {
        hash?.Dispose();
        hash = algorithm is { } a ? IncrementalHash.CreateHash(a) : null;
        if (algorithm == HashAlgorithmName.SHA1) hash!.AppendData(Encoding.ASCII.GetBytes($"blob {size}\0"));
        if (hash is null || length == 0) return length;
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 20);
        var buffer = new byte[1 << 20];
        long left = length;
        while (left > 0)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancel);
            if (n == 0) break;
            hash.AppendData(buffer, 0, n);
            left -= n;
        }
        return length - left;
    }

    public void Append(ReadOnlySpan<byte> data) => hash?.AppendData(data);

    /// <summary>The hex digest, or null when the id is not one to check.</summary>
    public string? Finish() => hash is null ? null : Convert.ToHexStringLower(hash.GetHashAndReset());

    public void Dispose() => hash?.Dispose();
}
