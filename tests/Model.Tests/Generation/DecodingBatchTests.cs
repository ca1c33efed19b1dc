using CaptionService.Model.Generation;
using TorchSharp;
using static CaptionService.Model.Tests.CaptionerTests;

namespace CaptionService.Model.Tests.Generation;

public class DecodingBatchTests
{
    private static readonly DecodingOptions Greedy = new() { MaxNewTokens = 10, StopAtEos = false };

    private static readonly DecodingOptions[] Mixed =
    [
        Greedy,
        Greedy with { Strategy = DecodingStrategy.Sample, Seed = 7, Temperature = 1.3, TopK = 20 },
        Greedy with { Strategy = DecodingStrategy.Beam, NumBeams = 3, MaxNewTokens = 6 },
        Greedy with { MaxNewTokens = 4, NoRepeatNgramSize = 2 },
        Greedy with { Strategy = DecodingStrategy.Sample, Seed = 8, TopP = 0.8, MaxNewTokens = 7 },
    ];

    [Fact]
    public void Captions_of_different_strategies_sharing_a_batch_equal_the_captions_made_alone()
    {
        var model = Tiny(seed: 4);
        var generator = new CaptionGenerator(model);
        using var pixels = Pixels(Presets.Tiny, Mixed.Length, 21);
        var alone = Mixed.Select((o, i) => generator.Generate(pixels[i..(i + 1)], o)[0]).ToList();

        var groups = Mixed.Select(o => DecodingGroup.For(model.Config, o)).ToList();
        using var batch = new DecodingBatch(model, capacity: 16);
        // Two join at once, the others one by one while the batch runs.
        batch.Admit(pixels[0..2], groups[..2]);
        var ended = new List<DecodingGroup>();
        for (int i = 2; i < groups.Count; i++)
        {
            ended.AddRange(batch.Step());
            batch.Admit(pixels[i..(i + 1)], [groups[i]]);
        }
        Assert.Equal(1 + 1 + 3 + 1 + 1, batch.Rows);
        while (!batch.IsEmpty) ended.AddRange(batch.Step());

        Assert.Equal(groups.ToHashSet(), ended.ToHashSet());
        for (int i = 0; i < groups.Count; i++)
        {
            Assert.Equal(alone[i].Tokens, groups[i].Result.Tokens);
            Assert.Equal(alone[i].Score, groups[i].Result.Score, tolerance: 1e-3);
        }
        // The short ones left first: the greedy caption of 4 tokens before the one of 10.
        Assert.True(ended.IndexOf(groups[3]) < ended.IndexOf(groups[0]));
        foreach (var g in groups) g.Dispose();
    }

    [Fact]
    public void A_removed_caption_leaves_its_rows_and_the_others_go_on_unchanged()
    {
        var model = Tiny(seed: 4);
        using var pixels = Pixels(Presets.Tiny, 3, 5);
        var alone = new CaptionGenerator(model).Generate(pixels, Greedy);

        var groups = Enumerable.Range(0, 3).Select(_ => DecodingGroup.For(model.Config, Greedy)).ToList();
        var beam = DecodingGroup.For(model.Config, Greedy with { Strategy = DecodingStrategy.Beam, NumBeams = 4 });
        using var batch = new DecodingBatch(model, capacity: 10);
        batch.Admit(torch.cat([pixels[0..2], pixels[0..1], pixels[2..3]]), [groups[0], groups[1], beam, groups[2]]);
        batch.Step();
        batch.Step();
        batch.Remove(beam);
        batch.Remove(groups[1]);
        Assert.Equal(2, batch.Rows);
        Assert.Equal([groups[0], groups[2]], batch.Groups);
        while (!batch.IsEmpty) batch.Step();
        Assert.Equal(alone[0].Tokens, groups[0].Result.Tokens);
        Assert.Equal(alone[2].Tokens, groups[2].Result.Tokens);
    }

    [Fact]
    public void Running_many_captions_through_one_batch_leaves_no_live_tensors()
    {
        var model = Tiny(seed: 2);
        using var pixels = Pixels(Presets.Tiny, 4, 3);
        using var batch = new DecodingBatch(model, capacity: 12);
        void Round()
        {
            var groups = Mixed.Take(4).Select(o => DecodingGroup.For(model.Config, o)).ToList();
            using var first = pixels[0..2];
            using var second = pixels[2..4];
            batch.Admit(first, groups[..2]);
            batch.Step();
            using (var admission = batch.BeginAdmit(second, groups[2..]))   // and a staged admission's states are freed
            {
                admission.Advance(1);
                batch.Step();
                admission.Advance(int.MaxValue);
                batch.Admit(admission);
            }
            batch.Step();
            batch.Remove(groups[1]);
            while (!batch.IsEmpty) batch.Step();
            foreach (var g in groups) g.Dispose();
        }
        Round(); // warm-up
        var stats = DisposeScopeManager.Statistics;
        long before = stats.ThreadTotalLiveCount;
        for (int i = 0; i < 5; i++) Round();
        Assert.Equal(before, stats.ThreadTotalLiveCount);
    }

    [Fact]
    public void A_caption_longer_than_the_batch_capacity_is_refused()
    {
        var model = Tiny();
        using var pixels = Pixels(Presets.Tiny, 1, 1);
        using var batch = new DecodingBatch(model, capacity: 8);
        var e = Assert.Throws<DecodingOptionsException>(() => batch.Admit(pixels, [DecodingGroup.For(model.Config, Greedy with { MaxNewTokens = 9 })]));
        Assert.Contains("capacity of 8", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DecodingBatch(model, capacity: model.Config.MaxPositions));
    }

    [Theory]
    [InlineData(CrossAttentionMode.Interleaved)]
    [InlineData(CrossAttentionMode.Final)]
    public void Newcomers_encoded_a_block_per_step_between_steps_get_the_captions_of_a_whole_encoding(CrossAttentionMode mode)
    {
        var config = Presets.Tiny with { CrossAttention = mode, EncoderLayers = 3, DecoderLayers = 3 };
        torch.manual_seed(6);
        using var model = new Captioner(config);
        model.eval();
        using var pixels = Pixels(config, 3, 9);
        var alone = new CaptionGenerator(model).Generate(pixels, Greedy);

        var groups = Enumerable.Range(0, 3).Select(_ => DecodingGroup.For(config, Greedy)).ToList();
        using var batch = new DecodingBatch(model, capacity: 16);
        batch.Admit(pixels[0..1], groups[..1]);
        using var admission = batch.BeginAdmit(pixels[1..3], groups[1..]);
        var unfinished = Assert.Throws<InvalidOperationException>(() => batch.Admit(admission));
        Assert.Contains("0 of 3 blocks", unfinished.Message);
        Assert.Equal(1, batch.Rows); // a refused admission leaves the batch as it was
        int steps = 0;
        while (!admission.IsEncoded)
        {
            batch.Step();
            steps++;
            admission.Advance(1);
            Assert.Equal(steps, admission.BlocksDone);
        }
        batch.Admit(admission);
        Assert.Equal(3, steps);
        Assert.Equal(3, batch.Rows);
        while (!batch.IsEmpty) batch.Step();
        for (int i = 0; i < 3; i++) Assert.Equal(alone[i].Tokens, groups[i].Result.Tokens);
        foreach (var g in groups) g.Dispose();
    }

    [Fact]
    public void Newcomers_who_leave_part_way_through_the_encoder_are_dropped_and_the_others_join_unchanged()
    {
        var config = Presets.Tiny with { EncoderLayers = 3, CrossAttention = CrossAttentionMode.Final };
        torch.manual_seed(7);
        using var model = new Captioner(config);
        model.eval();
        using var pixels = Pixels(config, 4, 10);
        var alone = new CaptionGenerator(model).Generate(pixels, Greedy);

        var groups = Enumerable.Range(0, 4).Select(_ => DecodingGroup.For(config, Greedy)).ToList();
        using var batch = new DecodingBatch(model, capacity: 16);
        batch.Admit(pixels[0..1], groups[..1]);
        using var admission = batch.BeginAdmit(pixels[1..4], groups[1..]);
        admission.Advance(1);
        batch.Step();
        Assert.Throws<ArgumentException>(() => admission.Keep([2, 0]));
        Assert.Throws<ArgumentException>(() => admission.Keep([3]));
        admission.Keep([0, 2]);                     // the second newcomer (image 2) left
        Assert.Equal([groups[1], groups[3]], admission.Groups);
        admission.Advance(int.MaxValue);
        batch.Admit(admission);
        Assert.Equal(3, batch.Rows);
        while (!batch.IsEmpty) batch.Step();
        foreach (int i in new[] { 0, 1, 3 }) Assert.Equal(alone[i].Tokens, groups[i].Result.Tokens);
        foreach (var g in groups) g.Dispose();
    }
}
