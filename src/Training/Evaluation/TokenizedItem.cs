namespace CaptionService.Training.Evaluation;

/// <summary>
/// One image as the scorers see it: its hypothesis and its references, each already tokenized
/// (tokens joined by single spaces, as <see cref="CaptionTokenization.Tokenize"/> or a PTB tokenizer writes them).
/// </summary>
/// <param name="Hypothesis">The predicted caption, tokenized ("" for an empty caption).</param>
/// <param name="References">The reference captions, tokenized; at least one.</param>
public sealed record TokenizedItem(string Hypothesis, IReadOnlyList<string> References)
{
    /// <summary>Checks a corpus: not empty, every item with a hypothesis and at least one reference.</summary>
    internal static void Validate(IReadOnlyList<TokenizedItem> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (items.Count == 0) throw new ArgumentException("Nothing to score: the corpus has no images.", nameof(items));
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i] ?? throw new ArgumentException($"Item {i} is null.", nameof(items));
            if (item.Hypothesis is null) throw new ArgumentException($"Item {i} has no hypothesis.", nameof(items));
            if (item.References is null || item.References.Count == 0)
                throw new ArgumentException($"Item {i} has no references.", nameof(items));
            if (item.References.Any(r => r is null)) throw new ArgumentException($"Item {i} has a null reference.", nameof(items));
        }
    }

    /// <summary>Whitespace tokens, as Python's <c>str.split()</c> (BLEU and CIDEr-D split this way).</summary>
    internal static string[] Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
}
