using System.Globalization;
using System.Text;

namespace CaptionService.Training.Evaluation;

/// <summary>
/// The tokenization applied to every caption before scoring: a C# approximation of what
/// coco-caption does with the Stanford PTB tokenizer (CoreNLP 3.4.1, <c>PTBTokenizer -preserveLines
/// -lowerCase</c>) followed by <c>ptbtokenizer.py</c>'s removal of punctuation tokens.
/// The scorers (<see cref="Bleu"/>, <see cref="RougeL"/>, <see cref="CiderD"/>) never tokenize: they take
/// the space-joined tokens this produces (or a real PTB tokenizer's output, which gives COCO's numbers exactly).
/// </summary>
/// <remarks>
/// <para>What it does, in order:</para>
/// <list type="number">
/// <item>Normalizes typographic characters as PTB escaping does: curly single quotes to <c>'</c>, curly
/// double quotes to <c>"</c>, <c>…</c> to <c>...</c>, en and em dashes to <c>--</c>, non-breaking spaces to spaces.</item>
/// <item>Lowercases (invariant culture; PTB lowercases each token with <c>Locale.ENGLISH</c>).</item>
/// <item>Splits on whitespace, then splits each piece into words and punctuation. A word is a run of letters,
/// digits and combining marks, joined through a single <c>-</c>, <c>.</c>, <c>/</c> or <c>'</c> between two word
/// characters (<c>black-and-white</c>, <c>www.x.com</c>, <c>and/or</c>, <c>o'clock</c> stay whole), through
/// <c>,</c> or <c>:</c> between digits (<c>1,000</c>, <c>10:30</c>), and <c>&amp;</c> between letters (<c>at&amp;t</c>).
/// A number may start with a period (<c>.5</c>).</item>
/// <item>Keeps a word's final period only for dotted acronyms (<c>u.s.</c>, <c>a.m.</c>, <c>e.g.</c>) and a short list of
/// abbreviations (<see cref="Abbreviations"/>: <c>mr.</c>, <c>st.</c>, <c>etc.</c>, ...); any other final period is
/// split off (and dropped).</item>
/// <item>Splits English clitics the PTB way: <c>n't</c> (<c>don't</c> → <c>do n't</c>, <c>can't</c> → <c>ca n't</c>,
/// <c>won't</c> → <c>wo n't</c>) and <c>'s 'm 'd 'll 're 've</c> (<c>it's</c> → <c>it 's</c>, <c>she'd've</c> →
/// <c>she 'd 've</c>), each only after a letter or digit; then splits the whole words
/// <c>cannot gonna gotta wanna lemme gimme 'tis 'twas</c> into <c>can not</c>,
/// <c>gon na</c>, ..., <c>'t is</c>; a possessive apostrophe after a plural (<c>players'</c>) becomes a lone
/// <c>'</c> (dropped).</item>
/// <item>Makes <c>( ) [ ] { }</c> the tokens <c>-lrb- -rrb- -lsb- -rsb- -lcb- -rcb-</c>, and keeps them (see below).</item>
/// <item>Runs of <c>?</c>/<c>!</c> are one token (<c>!!</c>), runs of <c>.</c> of 3 or more are <c>...</c>, runs of
/// 2 or more <c>-</c> are <c>--</c>; a <c>"</c> becomes <c>''</c>. Every other symbol is its own token, a run of the
/// same symbol one token (<c>$ 5</c>, <c>50 %</c>, <c>**</c>).</item>
/// <item>Drops the tokens in <see cref="Punctuation"/>, exactly <c>ptbtokenizer.py</c>'s list.</item>
/// </list>
/// <para>Output of this tokenizer tokenizes to itself (idempotent; checked on a million random strings during
/// development and 20,000 in the tests), so already tokenized text passes unchanged.</para>
/// <para>Known differences from coco-caption's Java PTB tokenizer:</para>
/// <list type="bullet">
/// <item>PTB lowercases after turning brackets into <c>-LRB-</c> etc., but <c>ptbtokenizer.py</c> compares tokens with an
/// upper-case list, so in COCO's pipeline brackets survive as <c>-lrb-</c>, <c>-rrb-</c>, ... This tokenizer reproduces
/// that (it does not drop brackets), on purpose.</item>
/// <item>PTB tokenizes the original, cased text and lowercases the tokens afterwards, and a few of its rules look at case
/// (an abbreviation before a capitalized word, some case-sensitive abbreviations); here text is lowercased first and
/// case plays no part.</item>
/// <item>Abbreviations: PTB has a long list (months, states, titles, company suffixes, ...) with context rules (some only
/// before numbers). Here only <see cref="Abbreviations"/> and dotted acronyms keep their period; e.g. PTB keeps
/// <c>jan.</c> and <c>calif.</c> whole, this splits them. PTB may keep a single letter's period (<c>a.</c> as an
/// initial); here it is split off.</item>
/// <item>PTB escapes <c>/</c> and <c>*</c> as <c>\/</c> and <c>\*</c> in 3.4.1; here they are left as they are (a renaming
/// applied to hypotheses and references alike, so it does not change any score).</item>
/// <item>PTB recognizes URLs, e-mail addresses, emoticons (<c>:-)</c>), phone numbers, fractions and SGML tags as single
/// tokens, and normalizes <c>&amp;amp;</c> and fractions; here they are split by the rules above.</item>
/// <item>PTB deletes characters it cannot tokenize (some symbols and emoji, with a warning); here each is a token.</item>
/// <item>Apostrophes: <c>'em</c>, <c>'90s</c> and a <c>'</c> inside a word (<c>o'clock</c>) stay whole, as in PTB; rarer
/// cases (<c>y'all</c>, <c>rock 'n' roll</c>, <c>o'</c> ending a word, <c>dunno</c>) may be split differently.</item>
/// </list>
/// </remarks>
public static class CaptionTokenization
{
    /// <summary>The tokens <c>ptbtokenizer.py</c> removes after PTB tokenization (its <c>PUNCTUATIONS</c>), compared
    /// case-sensitively as it does.</summary>
    public static IReadOnlySet<string> Punctuation { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";",
    };

    /// <summary>Words (lowercase, without the period) whose final period stays part of the token.</summary>
    public static IReadOnlySet<string> Abbreviations { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "mr", "mrs", "ms", "dr", "drs", "prof", "st", "jr", "sr", "mt", "ft", "ave", "vs", "etc", "inc", "corp", "ltd", "co",
    };

    // Special tokens PTB writes for brackets; lowercased, as they come out of "-lowerCase".
    private static readonly string[] BracketTokens = ["-lrb-", "-rrb-", "-lsb-", "-rsb-", "-lcb-", "-rcb-"];

    // Clitics split off the end of a word (no one of them is a suffix of another, so the order does not matter).
    private static readonly string[] Clitics = ["n't", "'ll", "'re", "'ve", "'s", "'m", "'d"];

    // Whole words PTB splits in two (first part, second part).
    private static readonly Dictionary<string, (string, string)> Assimilations = new(StringComparer.Ordinal)
    {
        ["cannot"] = ("can", "not"),
        ["gonna"] = ("gon", "na"),
        ["gotta"] = ("got", "ta"),
        ["wanna"] = ("wan", "na"),
        ["lemme"] = ("lem", "me"),
        ["gimme"] = ("gim", "me"),
        ["'tis"] = ("'t", "is"),
        ["'twas"] = ("'t", "was"),
    };

    // Apostrophe-initial tokens kept whole (as a piece of their own): the clitics and 'em, 't.
    private static readonly HashSet<string> ApostropheWords = new(StringComparer.Ordinal) { "'s", "'m", "'d", "'ll", "'re", "'ve", "'em", "'t" };

    /// <summary>The caption's tokens, joined by single spaces; "" when nothing is left.</summary>
    public static string Tokenize(string caption) => string.Join(' ', Tokens(caption));

    /// <summary>The caption's tokens, lowercased, punctuation removed.</summary>
    public static IReadOnlyList<string> Tokens(string caption)
    {
        ArgumentNullException.ThrowIfNull(caption);
        var tokens = new List<string>();
        foreach (var piece in Normalize(caption).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
            SplitPiece(piece, tokens);
        tokens.RemoveAll(Punctuation.Contains);
        return tokens;
    }

    /// <summary>Typographic quotes, dashes, ellipses and spaces to their ASCII forms, then lowercase.</summary>
    private static string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            switch (c)
            {
                case '\u2018' or '\u2019' or '\u201A' or '\u201B' or '\u2032': sb.Append('\''); break;
                case '\u201C' or '\u201D' or '\u201E' or '\u201F' or '\u00AB' or '\u00BB' or '\u2033': sb.Append('"'); break;
                case '\u2026': sb.Append("..."); break;
                case '\u2013' or '\u2014' or '\u2015': sb.Append(" -- "); break;
                case '\u2010' or '\u2011': sb.Append('-'); break;
                case '\u00A0' or '\u202F' or '\u2007': sb.Append(' '); break;
                case '\u00AD': break; // soft hyphen: invisible, PTB removes it too
                default: sb.Append(c); break;
            }
        }
        return sb.ToString().ToLowerInvariant();
    }

    /// <summary>Splits one whitespace-free piece into tokens (before punctuation removal).</summary>
    private static void SplitPiece(string s, List<string> tokens)
    {
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (c == '-' && BracketAt(s, i) is { } bracket)
            {
                tokens.Add(bracket);
                i += bracket.Length;
            }
            else if (IsWordChar(s, i) || (c == '.' && i + 1 < s.Length && char.IsAsciiDigit(s[i + 1]) && StartsNumber(s, i)))
            {
                int end = ScanWord(s, i);
                AddWord(s[i..end], tokens);
                i = end;
            }
            else if (c == '\'' && ApostropheWord(s, i) is { } word)
            {
                AddWord(word, tokens);
                i += word.Length;
            }
            else
            {
                int end = ScanSymbol(s, i, out string token);
                tokens.Add(token);
                i = end;
            }
        }
    }

    private static string? BracketAt(string s, int i)
    {
        foreach (var bracket in BracketTokens)
            if (string.CompareOrdinal(s, i, bracket, 0, bracket.Length) == 0) return bracket;
        return null;
    }

    // A period starts a number (".5") only where no word precedes it in the piece.
    private static bool StartsNumber(string s, int i) => i == 0 || !IsWordChar(s, i - 1);

    /// <summary>End (exclusive) of the word starting at <paramref name="start"/>, including a kept final period.</summary>
    private static int ScanWord(string s, int start)
    {
        int i = start;
        if (s[i] == '.') i++; // ".5"
        while (true)
        {
            while (i < s.Length && IsWordChar(s, i)) i += CharLength(s, i);
            if (i + 1 < s.Length && JoinsWord(s, i)) { i++; continue; }
            break;
        }
        // A final period stays for abbreviations and dotted acronyms (u.s. / a.m.), else it is split off.
        if (i < s.Length && s[i] == '.' && !(i + 1 < s.Length && s[i + 1] == '.'))
        {
            var word = s[start..i];
            if (Abbreviations.Contains(word) || IsDottedAcronym(word)) i++;
        }
        return i;
    }

    /// <summary>Whether the connector at <paramref name="i"/> joins the word characters on both sides.</summary>
    private static bool JoinsWord(string s, int i)
    {
        if (!IsWordChar(s, i + 1) || i == 0 || !IsWordChar(s, i - 1)) return false;
        return s[i] switch
        {
            '-' or '.' or '/' or '\'' => true,
            ',' or ':' => char.IsAsciiDigit(s[i - 1]) && char.IsAsciiDigit(s[i + 1]),
            '&' => char.IsLetter(s[i - 1]) && char.IsLetter(s[i + 1]),
            _ => false,
        };
    }

    // "u.s" (then a final "."): single letters separated by periods, at least two of them.
    private static bool IsDottedAcronym(string word)
    {
        if (word.Length < 3 || word.Length % 2 == 0) return false;
        for (int k = 0; k < word.Length; k++)
        {
            bool ok = k % 2 == 0 ? char.IsLetter(word[k]) : word[k] == '.';
            if (!ok) return false;
        }
        return true;
    }

    /// <summary>An apostrophe-initial word at <paramref name="i"/> ("'s", "'em", "'tis", "'90s"), or null.</summary>
    private static string? ApostropheWord(string s, int i)
    {
        int end = i + 1;
        while (end < s.Length && IsWordChar(s, end)) end += CharLength(s, end);
        if (end == i + 1) return null;
        var word = s[i..end];
        if (ApostropheWords.Contains(word) || Assimilations.ContainsKey(word)) return word;
        // '90s, '60s: two digits and an optional s.
        if (word.Length >= 3 && char.IsAsciiDigit(word[1]) && char.IsAsciiDigit(word[2]) && (word.Length == 3 || word[3..] == "s"))
            return word;
        return null;
    }

    /// <summary>Adds a word with its clitics split off and assimilations split in two.</summary>
    private static void AddWord(string word, List<string> tokens)
    {
        // Peel clitics off the end: "she'd've" -> "she" "'d" "'ve"; only after a letter or digit ("n-n't" keeps "n't" whole).
        var clitics = new Stack<string>();
        while (Clitics.FirstOrDefault(c => word.Length > c.Length && word.EndsWith(c, StringComparison.Ordinal)
            && IsWordChar(word, word.Length - c.Length - 1)) is { } clitic)
        {
            clitics.Push(clitic);
            word = word[..^clitic.Length];
        }
        if (Assimilations.TryGetValue(word, out var parts))
        {
            tokens.Add(parts.Item1);
            tokens.Add(parts.Item2);
        }
        else
        {
            tokens.Add(word);
        }
        tokens.AddRange(clitics);
    }

    /// <summary>A punctuation or symbol token at <paramref name="i"/>; returns its end.</summary>
    private static int ScanSymbol(string s, int i, out string token)
    {
        char c = s[i];
        int end = i + 1;
        switch (c)
        {
            case '(': token = "-lrb-"; return end;
            case ')': token = "-rrb-"; return end;
            case '[': token = "-lsb-"; return end;
            case ']': token = "-rsb-"; return end;
            case '{': token = "-lcb-"; return end;
            case '}': token = "-rcb-"; return end;
            case '"': token = "''"; return end;
            case '?' or '!':
                while (end < s.Length && s[end] is '?' or '!') end++;
                token = s[i..end];
                return end;
            case '.':
                while (end < s.Length && s[end] == '.') end++;
                token = end - i >= 3 ? "..." : ".";
                // ".." is two periods; both are dropped anyway.
                return end - i == 2 ? i + 1 : end;
            case '-':
                while (end < s.Length && s[end] == '-') end++;
                token = end - i >= 2 ? "--" : "-";
                return end;
            case '`':
                while (end < s.Length && s[end] == '`') end++;
                token = end - i >= 2 ? "``" : "`";
                return end;
            case '\'':
                token = end < s.Length && s[end] == '\'' ? "''" : "'";
                return token.Length == 2 ? end + 1 : end;
            case ',' or ';' or ':':
                token = c.ToString();
                return end;
        }
        // Any other symbol: a run of the same character (a surrogate pair counts as one character).
        int length = CharLength(s, i);
        end = i + length;
        while (end + length <= s.Length && string.CompareOrdinal(s, end, s, i, length) == 0) end += length;
        token = s[i..end];
        return end;
    }

    private static int CharLength(string s, int i) => char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1;

    private static bool IsWordChar(string s, int i)
    {
        if (i < 0 || i >= s.Length) return false;
        if (char.IsLowSurrogate(s[i]) && i > 0 && char.IsHighSurrogate(s[i - 1])) return IsWordChar(s, i - 1);
        var category = char.GetUnicodeCategory(s, i);
        return category is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.DecimalDigitNumber
            or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber or UnicodeCategory.NonSpacingMark
            or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;
    }
}
