using System.Globalization;
using CaptionService.Model.Generation;
using TorchSharp;
using static CaptionService.Model.Tests.CaptionerTests;

namespace CaptionService.Model.Tests.Generation;

/// <summary>One caption can only fail itself: a failure the model throws for a whole step is traced to
/// the captions it happens with, and everyone else in the batch gets the caption they would have had alone.</summary>
public class IsolationTests
{
    private static readonly DecodingOptions Greedy = new() { MaxNewTokens = 10, StopAtEos = false };

    private static readonly DecodingOptions[] Mixed =
    [
        Greedy,
        Greedy with { Strategy = DecodingStrategy.Sample, Seed = 7, Temperature = 1.3, TopK = 20 },
        Greedy with { Strategy = DecodingStrategy.Beam, NumBeams = 3, MaxNewTokens = 6 },
        Greedy with { MaxNewTokens = 4, NoRepeatNgramSize = 2 },
        Greedy with { Strategy = DecodingStrategy.Sample, Seed = 8, TopP = 0.8, MaxNewTokens = 7 },
        Greedy with { Strategy = DecodingStrategy.Beam, NumBeams = 2, LengthPenalty = 0.5, MaxNewTokens = 8 },
    ];

    /// <summary>Marks a caption that the model fails with (greedy ignores the seed, so it changes nothing else).</summary>
    private const long Poison = 666;

    private static bool IsPoisoned(DecodingOptions o) => o.Seed == Poison;

    /// <summary>Runs <paramref name="options"/> through one batch, caption i joining before step <paramref name="joinAt"/>[i].</summary>
    private static List<DecodingGroup> RunTogether(Captioner model, torch.Tensor pixels, IReadOnlyList<DecodingOptions> options, int[] joinAt)
    {
        var groups = options.Select(o => DecodingGroup.For(model.Config, o)).ToList();
        using var batch = new DecodingBatch(model, capacity: 16);
        var left = new List<DecodingGroup>();
        for (int step = 0; left.Count < groups.Count; step++)
        {
            var joining = Enumerable.Range(0, groups.Count).Where(i => joinAt[i] == step).ToList();
            foreach (var i in joining)
            {
                using var image = pixels[i..(i + 1)];
                batch.Admit(image, [groups[i]]);
            }
            left.AddRange(batch.Step());
            Assert.True(step < 100, "the batch never emptied");
        }
        Assert.True(batch.IsEmpty);
        Assert.Equal(groups.ToHashSet(), left.ToHashSet());
        return groups;
    }

    private static void AssertSameAsAlone(CaptionGenerator generator, torch.Tensor pixels, IReadOnlyList<DecodingOptions> options, IReadOnlyList<DecodingGroup> groups, Func<int, bool> skip)
    {
        for (int i = 0; i < groups.Count; i++)
        {
            if (skip(i)) continue;
            var alone = generator.Generate(pixels[i..(i + 1)], options[i])[0];
            Assert.Null(groups[i].Error);
            Assert.Equal(alone.Tokens, groups[i].Result.Tokens);
            Assert.Equal(alone.Score, groups[i].Result.Score, tolerance: 1e-3); // a tolerance, not 3 decimals: -102.4984999 and -102.4985008 round apart
        }
    }

    [Theory]
    [InlineData(DecodingStrategy.Greedy, 1, 2)]     // joins a running batch at step 2
    [InlineData(DecodingStrategy.Beam, 4, 0)]       // is there from the start, with 4 rows
    [InlineData(DecodingStrategy.Sample, 1, 5)]
    public void A_caption_the_model_fails_with_fails_alone_and_the_rest_of_the_batch_is_unchanged(DecodingStrategy strategy, int beams, int joinAt)
    {
        var model = Tiny(seed: 4);
        var generator = new CaptionGenerator(model);
        var culprit = Greedy with { Strategy = strategy, NumBeams = beams, Seed = Poison };
        var options = Mixed.Take(3).Append(culprit).Concat(Mixed.Skip(3)).ToArray();
        int poisoned = 3;
        using var pixels = Pixels(Presets.Tiny, options.Length, 21);

        List<DecodingGroup> groups;
        using (FaultInjection.FailWhen(model, IsPoisoned, FaultPoint.Step))
            groups = RunTogether(model, pixels, options, [0, 0, 1, joinAt, 1, 3, 4]);

        Assert.IsType<InjectedFaultException>(groups[poisoned].Error);
        AssertSameAsAlone(generator, pixels, options, groups, i => i == poisoned);
        foreach (var g in groups) g.Dispose();
    }

    [Fact]
    public void Two_culprits_in_one_batch_fail_and_nobody_else_does()
    {
        var model = Tiny(seed: 6);
        var generator = new CaptionGenerator(model);
        var options = Mixed.Concat([Greedy with { Seed = Poison }, Greedy with { Strategy = DecodingStrategy.Beam, NumBeams = 2, Seed = Poison }]).ToArray();
        using var pixels = Pixels(Presets.Tiny, options.Length, 3);

        List<DecodingGroup> groups;
        using (FaultInjection.FailWhen(model, IsPoisoned, FaultPoint.Step))
            groups = RunTogether(model, pixels, options, [0, 0, 0, 0, 2, 2, 1, 3]);

        Assert.All(groups.Where(g => IsPoisoned(g.Options)), g => Assert.IsType<InjectedFaultException>(g.Error));
        AssertSameAsAlone(generator, pixels, options, groups, i => IsPoisoned(options[i]));
        foreach (var g in groups) g.Dispose();
    }

    [Fact]
    public void A_failed_admission_leaves_the_running_batch_as_it_was()
    {
        var model = Tiny(seed: 4);
        var generator = new CaptionGenerator(model);
        using var pixels = Pixels(Presets.Tiny, 3, 9);
        var running = new[] { DecodingGroup.For(model.Config, Mixed[0]), DecodingGroup.For(model.Config, Mixed[2]) };
        var culprit = DecodingGroup.For(model.Config, Greedy with { Seed = Poison });
        using var batch = new DecodingBatch(model, capacity: 16);
        batch.Admit(pixels[0..2], running);
        batch.Step();

        using (FaultInjection.FailWhen(model, IsPoisoned, FaultPoint.Admission))
            Assert.Throws<InjectedFaultException>(() => batch.Admit(pixels[2..3], [culprit]));

        Assert.Equal(1 + 3, batch.Rows);
        Assert.Equal(running, batch.Groups);
        Assert.Equal(0, culprit.Rows);
        while (!batch.IsEmpty) batch.Step();
        Assert.Equal(generator.Generate(pixels[0..1], Mixed[0])[0].Tokens, running[0].Result.Tokens);
        Assert.Equal(generator.Generate(pixels[1..2], Mixed[2])[0].Tokens, running[1].Result.Tokens);
        foreach (var g in running.Append(culprit)) g.Dispose();
    }

    [Fact]
    public void An_image_the_model_gives_no_finite_scores_for_fails_that_caption_only()
    {
        var model = Tiny(seed: 4);
        var generator = new CaptionGenerator(model);
        var options = Mixed.Take(4).ToArray();
        using var pixels = Pixels(Presets.Tiny, options.Length, 5);
        using (var beamImage = pixels[2]) beamImage.FillInPlace(double.NaN);   // the beam caption's image

        var groups = RunTogether(model, pixels, options, [0, 0, 1, 2]);

        Assert.Contains("not finite", Assert.IsType<InvalidOperationException>(groups[2].Error).Message);
        AssertSameAsAlone(generator, pixels, options, groups, i => i == 2);
        Assert.Throws<InvalidOperationException>(() => generator.Generate(pixels[2..3], options[0]));
        foreach (var g in groups) g.Dispose();
    }

    [Fact]
    public void Failures_leave_no_live_tensors_behind()
    {
        var model = Tiny(seed: 2);
        using var pixels = Pixels(Presets.Tiny, 4, 3);
        void Round()
        {
            var options = new[] { Mixed[0], Greedy with { Seed = Poison }, Mixed[2], Mixed[1] };
            var groups = RunTogether(model, pixels, options, [0, 0, 1, 1]);
            foreach (var g in groups) g.Dispose();
        }
        using var fault = FaultInjection.FailWhen(model, IsPoisoned, FaultPoint.Step);
        Round(); // warm-up
        var stats = DisposeScopeManager.Statistics;
        long before = stats.ThreadTotalLiveCount;
        var counts = new List<long>();
        for (int i = 0; i < 4; i++) { Round(); counts.Add(stats.ThreadTotalLiveCount); }
        Assert.True(counts.All(c => c == before), $"{before} -> {string.Join(", ", counts)}");
    }

    // ---------------- Extreme option values ----------------

    private static readonly double[] ExtremeDoubles =
    [
        0, -0.0, double.Epsilon, 1e-310, 1e-300, 1e-38, 0.01, 0.5, 1, 10, 100, 1e300, double.MaxValue,
        -1, double.NaN, double.PositiveInfinity, double.NegativeInfinity,
    ];

    private static readonly int[] ExtremeInts = [0, 1, 2, -1, int.MaxValue, int.MinValue];

    private static readonly long[] ExtremeSeeds = [0, -1, long.MaxValue, long.MinValue];

    /// <summary>Every decoding option set to every extreme value, under every strategy.</summary>
    public static IEnumerable<(string Name, DecodingOptions Options)> ExtremeOptions()
    {
        var small = new DecodingOptions { MaxNewTokens = 3 };
        foreach (var strategy in Enum.GetValues<DecodingStrategy>())
        {
            var o = small with { Strategy = strategy, NumBeams = 2, Seed = 1 };
            string S(double v) => v.ToString("R", CultureInfo.InvariantCulture);
            foreach (var v in ExtremeDoubles)
            {
                yield return ($"{strategy} temperature={S(v)}", o with { Temperature = v });
                yield return ($"{strategy} top_p={S(v)}", o with { TopP = v });
                yield return ($"{strategy} length_penalty={S(v)}", o with { LengthPenalty = v });
            }
            foreach (var v in ExtremeInts)
            {
                yield return ($"{strategy} top_k={v}", o with { TopK = v });
                yield return ($"{strategy} no_repeat_ngram_size={v}", o with { NoRepeatNgramSize = v });
                yield return ($"{strategy} max_new_tokens={v}", o with { MaxNewTokens = v });
                // Beams multiply the batch's rows: the service bounds them before they get here (num_beams at most 16).
                if (strategy == DecodingStrategy.Beam && v is > 0 and < 64) yield return ($"{strategy} num_beams={v}", o with { NumBeams = v });
                else if (v < 1) yield return ($"{strategy} num_beams={v}", o with { NumBeams = v });
            }
            foreach (var v in ExtremeSeeds) yield return ($"{strategy} seed={v}", o with { Seed = v });
        }
    }

    [Fact]
    public void Every_option_at_every_extreme_value_is_refused_up_front_or_decodes_alone_and_in_a_batch()
    {
        // A small vocabulary keeps the ~200 captions quick; the arithmetic is the same.
        var model = Tiny(Presets.Tiny with { VocabSize = 512, BosTokenId = 511, EosTokenId = 511, PadTokenId = 511 }, seed: 8);
        var generator = new CaptionGenerator(model);
        var cases = ExtremeOptions().ToList();
        using var pixels = Pixels(Presets.Tiny, 1, 4);
        var accepted = new List<(string Name, DecodingOptions Options, GeneratedSequence Alone)>();
        int refused = 0;
        foreach (var (name, options) in cases)
        {
            bool valid = !options.Validate().Any();
            var e = Record.Exception(() => DecodingGroup.For(model.Config, options).Dispose());
            if (!valid)
            {
                Assert.True(e is DecodingOptionsException, $"{name}: {e?.GetType().Name ?? "accepted"}");
                refused++;
                continue;
            }
            Assert.Null(e);
            // Valid options decode: no exception, only finite scores (or -inf for a beam search that found nothing).
            var alone = generator.Generate(pixels, options)[0];
            Assert.False(double.IsNaN(alone.Score), name);
            accepted.Add((name, options, alone));
        }
        Assert.True(refused > 50 && accepted.Count > 50, $"{refused} refused, {accepted.Count} accepted");

        // All the accepted ones in one batch, joining at different steps: each gets its caption from alone.
        var capacity = Math.Min(16, model.Config.MaxPositions - 1);
        var groups = accepted.Select(a => DecodingGroup.For(model.Config, a.Options with { MaxNewTokens = Math.Min(a.Options.MaxNewTokens, capacity) })).ToList();
        using var batch = new DecodingBatch(model, capacity);
        using var many = pixels.expand(groups.Count, -1, -1, -1).contiguous();
        for (int i = 0; i < groups.Count; i += 7)
        {
            int n = Math.Min(7, groups.Count - i);
            batch.Admit(many[i..(i + n)], groups.GetRange(i, n));
            batch.Step();
        }
        while (!batch.IsEmpty) batch.Step();
        for (int i = 0; i < groups.Count; i++)
        {
            Assert.Null(groups[i].Error);
            var alone = accepted[i].Options.MaxNewTokens <= capacity ? accepted[i].Alone
                : generator.Generate(pixels, groups[i].Options)[0];
            Assert.True(alone.Tokens.SequenceEqual(groups[i].Result.Tokens), accepted[i].Name);
        }
        foreach (var g in groups) g.Dispose();
    }

    [Theory]
    [InlineData(1e-300)]
    [InlineData(1e-38)]
    [InlineData(double.Epsilon)]
    public void Top_p_that_rounds_to_zero_in_float32_keeps_the_most_likely_token(double topP)
    {
        var model = Tiny(seed: 8);
        using var pixels = Pixels(Presets.Tiny, 1, 4);
        var generator = new CaptionGenerator(model);
        var sampled = generator.Generate(pixels, new DecodingOptions { Strategy = DecodingStrategy.Sample, TopP = topP, Seed = 3, MaxNewTokens = 5, StopAtEos = false })[0];
        var greedy = generator.Generate(pixels, new DecodingOptions { MaxNewTokens = 5, StopAtEos = false })[0];
        Assert.Equal(greedy.Tokens, sampled.Tokens);
    }
}
