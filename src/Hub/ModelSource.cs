using System.Text.Json;
using CaptionService.Model.Checkpoints;
using CaptionService.Model.Text;

namespace CaptionService.Hub;

/// <summary>What a reference is used for, which decides the files fetched and the checks made before the weights.</summary>
public enum ModelPurpose
{
    /// <summary>A model to caption with: a CaptionService checkpoint or an HF VisionEncoderDecoder ViT-GPT2.</summary>
    Captioner,
    /// <summary><c>import-pretrained hf --source</c>: an HF VisionEncoderDecoder ViT-GPT2.</summary>
    HfVisionEncoderDecoder,
    /// <summary><c>import-pretrained timm-gpt2 --vit</c>: a timm ViT.</summary>
    TimmVit,
    /// <summary><c>import-pretrained timm-gpt2 --gpt2</c>: Hugging Face GPT-2.</summary>
    Gpt2,
}

/// <summary>Which repository and commit a model came from.</summary>
public sealed record HubOrigin(string Repo, string Revision, string Commit);

/// <summary>A local folder holding the model's files, what to call it, and where it came from (null: a local directory).</summary>
/// <param name="ConvertedWeights">for an HF ViT-GPT2 from the Hub: where its weights, converted once to our layout, are kept
/// (<c>models--OWNER--NAME/captionservice/COMMIT/model.safetensors</c> in the Hugging Face cache, removed with the repository by
/// huggingface-cli delete-cache); null otherwise</param>
public sealed record ResolvedModel(string Directory, string Id, HubOrigin? Hub, string? ConvertedWeights = null);

/// <summary>
/// Turns what a user wrote (a directory, or <c>hf:OWNER/NAME[@REVISION]</c>) into a folder every loader reads.
/// For the Hub it fetches only what the purpose needs, small files first (config.json, preprocessor_config.json,
/// generation_config.json, the tokenizer's vocabulary), checks them (architecture, vocabulary, config) so that the
/// wrong model is refused before its weights are downloaded, then the weights (model.safetensors, else
/// pytorch_model.bin). Directories are returned as they are: their loaders check them.
/// </summary>
public sealed class ModelSource : IDisposable
{
    private const string Config = "config.json";
    private static readonly string[] Weights = ["model.safetensors", "pytorch_model.bin"];
    private static readonly string[] Sharded = ["model.safetensors.index.json", "pytorch_model.bin.index.json"];

    private readonly HubClient client;
    private readonly HubDownloader downloader;

    public ModelSource(HubSettings settings, RetryPolicy? retry = null, Action<string>? warn = null)
    {
        client = new HubClient(settings, retry);
        downloader = new HubDownloader(client, warn);
    }

    public HubSettings Settings => client.Settings;

    /// <exception cref="FormatException">a malformed hf: reference</exception>
    /// <exception cref="HubException">the Hub or the cache could not provide it (one line)</exception>
    /// <exception cref="InvalidDataException">the repository holds another kind of model, vocabulary or a bad config (one line)</exception>
    public async Task<ResolvedModel> ResolveAsync(string reference, ModelPurpose purpose, IProgress<HubProgress>? progress, CancellationToken cancel)
    {
        if (!ModelReference.IsHub(reference))
        {
            var full = Path.GetFullPath(reference);
            return new ResolvedModel(full, Path.GetFileName(Path.TrimEndingDirectorySeparator(full)), null);
        }
        var repo = ModelReference.Parse(reference);
        var snapshot = await downloader.OpenAsync(repo,
            cached => Weights.Any(cached.Contains) && (purpose == ModelPurpose.TimmVit || cached.Contains(Config)), cancel);

        await snapshot.FetchAsync(SmallFiles(snapshot, purpose), progress, cancel);
        bool ours = Check(snapshot, purpose);
        await snapshot.FetchAsync([WeightsFile(snapshot, ours)], progress, cancel);
        var converted = purpose == ModelPurpose.Captioner && !ours
            ? Path.Combine(downloader.Cache.RepoFolder(repo), "captionservice", snapshot.Commit, "model.safetensors")
            : null;
        return new ResolvedModel(snapshot.Folder, repo.RepoId, new HubOrigin(repo.RepoId, repo.RevisionOrDefault, snapshot.Commit), converted);
    }

    /// <summary>config.json and what the checks read: the preprocessor, generation settings and vocabulary files present.</summary>
    private static List<string> SmallFiles(HubSnapshot snapshot, ModelPurpose purpose)
    {
        if (purpose == ModelPurpose.TimmVit) return snapshot.Has(Config) ? [Config] : [];
        if (!snapshot.Has(Config))
            throw new HubException(HubErrorKind.FileNotFound, $"{snapshot.Repo}: no {Config} at commit {snapshot.Commit}: not a model repository");
        var files = new List<string> { Config };
        foreach (var name in new[] { HfImporter.PreprocessorFileName, HfImporter.GenerationFileName, Gpt2Vocabulary.AddedTokensFileName })
            if (snapshot.Has(name)) files.Add(name);
        // The vocabulary once: vocab.json (1 MB), else tokenizer.json (which holds it too).
        if (snapshot.Has(Gpt2Vocabulary.VocabFileName)) files.Add(Gpt2Vocabulary.VocabFileName);
        else if (snapshot.Has(Gpt2Vocabulary.TokenizerFileName)) files.Add(Gpt2Vocabulary.TokenizerFileName);
        return files;
    }

    /// <summary>Refuses the wrong model from its small files, in one line that names the repository. True for our own format.</summary>
    private static bool Check(HubSnapshot snapshot, ModelPurpose purpose)
    {
        try
        {
            switch (purpose)
            {
                case ModelPurpose.Captioner:
                    if (CheckpointFormats.Detect(snapshot.Folder) == CheckpointFormat.CaptionService)
                    {
                        Checkpoint.ReadConfig(snapshot.Folder);
                        return true;
                    }
                    HfImporter.ReadConfig(snapshot.Folder);
                    return false;
                case ModelPurpose.HfVisionEncoderDecoder:
                    HfImporter.ReadConfig(snapshot.Folder);
                    return false;
                case ModelPurpose.TimmVit:
                    if (snapshot.Has(Config) && ModelType(snapshot) is { } type)
                        throw new InvalidDataException($"{Config}: a Hugging Face {type} model, not a timm ViT (like timm/vit_base_patch16_224.augreg2_in21k_ft_in1k)");
                    return false;
                case ModelPurpose.Gpt2:
                    var kind = ModelType(snapshot);
                    if (kind != "gpt2")
                        throw new InvalidDataException($"{Config}: {(kind is null ? "no model_type" : $"a {kind} model")}, not GPT-2 (like openai-community/gpt2)");
                    using (var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(snapshot.Folder, Config))))
                    {
                        int vocab = doc.RootElement.TryGetProperty("vocab_size", out var v) && v.TryGetInt32(out int n) ? n : Gpt2Vocabulary.Size;
                        Gpt2Vocabulary.Check(snapshot.Folder, vocab, Path.Combine(snapshot.Folder, Config), []);
                    }
                    return false;
                default:
                    throw new ArgumentOutOfRangeException(nameof(purpose));
            }
        }
        catch (InvalidDataException e)
        {
            // Name the repository, not the cache folder.
            throw new InvalidDataException($"{snapshot.Repo}: {e.Message.Replace(snapshot.Folder + Path.DirectorySeparatorChar, "")}", e);
        }
    }

    private static string? ModelType(HubSnapshot snapshot)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(snapshot.Folder, Config)));
        return doc.RootElement.TryGetProperty("model_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
    }

    /// <summary>model.safetensors, else pytorch_model.bin (ours is always safetensors); a weights file already cached wins,
    /// so a model fetched once (by Python, say) is not fetched again in the other format.</summary>
    private static string WeightsFile(HubSnapshot snapshot, bool ours)
    {
        var candidates = ours ? Weights[..1] : Weights;
        var cached = candidates.FirstOrDefault(f => File.Exists(Path.Combine(snapshot.Folder, f)));
        if (cached is not null) return cached;
        var present = candidates.FirstOrDefault(snapshot.Has);
        if (present is not null) return present;
        var sharded = Sharded.FirstOrDefault(snapshot.Has);
        throw new HubException(HubErrorKind.FileNotFound, sharded is not null
            ? $"{snapshot.Repo}: weights split into shards ({sharded}), which are not supported; a ViT-GPT2 fits in one file"
            : $"{snapshot.Repo}: no weights file ({string.Join(" or ", candidates)}) at commit {snapshot.Commit}" +
              (snapshot.FromCache ? " in the cache" : ""));
    }

    public void Dispose() => client.Dispose();
}
