using CaptionService.Training.Evaluation;

namespace CaptionService.Training.Tests.Evaluation;

public sealed class CaptionTokenizationTests
{
    [Theory]
    // Case and final punctuation.
    [InlineData("A Man riding a HORSE.", "a man riding a horse")]
    [InlineData("  Two dogs ,playing;  in the snow!  ", "two dogs playing in the snow")]
    [InlineData("What is this? A cat: sleeping...", "what is this a cat sleeping")]
    // Quotes of every kind are dropped; curly apostrophes act as straight ones.
    [InlineData("a sign that says \"stop\" and `slow'", "a sign that says stop and slow")]
    [InlineData("a ``quoted'' word", "a quoted word")]
    [InlineData("It’s a dog’s life, “really”", "it 's a dog 's life really")]
    // Clitics, the PTB way.
    [InlineData("The dog's ball isn't red, it's blue!", "the dog 's ball is n't red it 's blue")]
    [InlineData("I can't, won't; they're sure we'll go and I'm done, she'd've", "i ca n't wo n't they 're sure we 'll go and i 'm done she 'd 've")]
    [InlineData("You cannot, we're gonna, gotta, wanna", "you can not we 're gon na got ta wan na")]
    [InlineData("Gonna’S cannot'm", "gon na 's can not 'm")]
    [InlineData("'Tis the season", "'t is the season")]
    [InlineData("the players' bench in the '90s", "the players bench in the '90s")]
    [InlineData("at five o'clock", "at five o'clock")]
    // Words kept whole: hyphens, numbers, acronyms, abbreviations.
    [InlineData("a black-and-white photo", "a black-and-white photo")]
    [InlineData("3.5 miles, 1,000 feet at 10:30.", "3.5 miles 1,000 feet at 10:30")]
    [InlineData("the U.S. capitol at 5 p.m.", "the u.s. capitol at 5 p.m.")]
    [InlineData("Mr. Smith on St. Patrick's day", "mr. smith on st. patrick 's day")]
    [InlineData("a dog. a cat.", "a dog a cat")]
    // Dashes: a lone or double dash is punctuation, also unicode ones.
    [InlineData("a dog - a cat -- a bird — a fish", "a dog a cat a bird a fish")]
    [InlineData("dog--cat", "dog cat")]
    // Brackets become -lrb- ... and, as in coco-caption's pipeline, stay (its removal list is upper case).
    [InlineData("Two people (a man and a woman) [sic] {x}", "two people -lrb- a man and a woman -rrb- -lsb- sic -rsb- -lcb- x -rcb-")]
    // Other symbols are tokens; runs of ?/! are one token, which is not in the removal list.
    [InlineData("wow!! a $5 bill & 50% off at&t", "wow !! a $ 5 bill & 50 % off at&t")]
    [InlineData("", "")]
    [InlineData(" . , ! ", "")]
    public void Tokenizes_like_ptb_then_removes_punctuation(string caption, string expected) =>
        Assert.Equal(expected, CaptionTokenization.Tokenize(caption));

    [Theory]
    [InlineData("The dog's ball isn't red, it's blue!")]
    [InlineData("Two people (a man and a woman) at 5 p.m. in the U.S.")]
    [InlineData("You cannot, we're gonna; 'tis the '90s!! $5 & 50%")]
    [InlineData("Mr. Smith's black-and-white photo, 3.5 miles away...")]
    [InlineData("Gonna’S cannot'm")] // clitics come off before "gonna"/"cannot" are split: "gon na 's can not 'm"
    [InlineData("it'sit'sst.n’t n-N’T")] // a clitic is split only after a letter or digit
    public void Tokenized_text_tokenizes_to_itself(string caption)
    {
        var once = CaptionTokenization.Tokenize(caption);
        Assert.Equal(once, CaptionTokenization.Tokenize(once));
    }

    [Fact]
    public void Random_text_tokenizes_to_a_fixed_point()
    {
        // Random mixes of letters, clitics, abbreviations, brackets, quotes, dashes and symbols.
        const string chars = "abAB c'.-,!?()[]{}$&/:;1 29sntmdlvreSNT\"`…’‘“”—–#*@_+=<>%~\\|^\t\u00A0é\u0301";
        string[] words = ["don't", "it's", "u.s.", "st.", "cannot", "gonna", "'tis", "'90s", "o'clock", "-lrb-", "3.5", "1,000",
            "...", "--", "a.m.", "😀", "Mr.", "she'd've", "can't", "??!", "``", "''"];
        var random = new Random(12345);
        for (int t = 0; t < 20_000; t++)
        {
            var text = string.Concat(Enumerable.Range(0, random.Next(1, 12))
                .Select(_ => random.Next(4) == 0 ? words[random.Next(words.Length)] : chars[random.Next(chars.Length)].ToString()));
            var once = CaptionTokenization.Tokenize(text);
            Assert.True(once == CaptionTokenization.Tokenize(once), $"[{text}] -> [{once}] -> [{CaptionTokenization.Tokenize(once)}]");
            Assert.DoesNotContain(CaptionTokenization.Tokens(text), CaptionTokenization.Punctuation.Contains);
        }
    }

    [Fact]
    public void Removes_exactly_the_reference_code_s_punctuation_list()
    {
        string[] reference = ["''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"];
        Assert.Equal(reference.Order(StringComparer.Ordinal), CaptionTokenization.Punctuation.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Tokens_are_the_space_separated_pieces()
    {
        Assert.Equal(["a", "dog", "'s", "toy"], CaptionTokenization.Tokens("A dog's toy."));
        Assert.Empty(CaptionTokenization.Tokens("?"));
    }
}
