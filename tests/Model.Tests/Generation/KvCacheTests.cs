using CaptionService.Model.Generation;
using static CaptionService.Model.Tests.CaptionerTests;
using static TorchSharp.torch;

namespace CaptionService.Model.Tests.Generation;

/// <summary><see cref="KvCache.Select"/> copies only the rows that move; what the cache then holds must be
/// what each row's own history gives, checked against teacher-forced logits of that history.</summary>
public class KvCacheTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Selecting_rows_keeps_each_rows_own_history(bool cpuKernels)
    {
        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var config = Presets.Tiny;
        var model = Tiny(config, seed: 4);
        if (cpuKernels) model.UseCpuKernels();
        var states = model.Encode(Pixels(config, 5, 21));
        Tensor[] StatesOf(long image) => states.Select(s => s.narrow(0, image, 1)).ToArray();
        long bos = config.BosTokenId;

        // Per row of the cache: its image and the tokens it was fed.
        var image = new List<long> { 0, 1, 2, 3 };
        var fed = image.Select(_ => new List<long>()).ToList();
        void StepAll(KvCache c, int step)
        {
            var tokens = Enumerable.Range(0, image.Count).Select(r => fed[r].Count == 0 ? bos : (step * 7 + r * 3 + 5) % 50000L).ToArray();
            for (int r = 0; r < tokens.Length; r++) fed[r].Add(tokens[r]);
            model.Step(tensor(tokens), c);
        }

        // Rows 0-3 step three times; image 4 joins after the first step, so the lengths differ (3, 3, 3, 3, 2).
        using var cache = model.StartDecoding(states.Select(s => s.narrow(0, 0, 4)).ToArray(), 12);
        StepAll(cache, 0);
        using (var newcomer = model.StartDecoding(StatesOf(4), 12)) cache.Join(newcomer);
        image.Add(4);
        fed.Add([]);
        StepAll(cache, 1);
        StepAll(cache, 2);

        // Reordered with a duplicate (a beam forking) and rows in place; then fewer rows (captions leaving).
        foreach (var order in new[] { new long[] { 2, 0, 0, 3, 4 }, [4, 3, 1], [0, 2] })
        {
            var lengths = cache.Lengths.ToArray();
            cache.Select(tensor(order));
            Assert.Equal(order.Select(r => lengths[r]), cache.Lengths);
            image = order.Select(r => image[(int)r]).ToList();
            fed = order.Select(r => new List<long>(fed[(int)r])).ToList();

            var tokens = Enumerable.Range(0, order.Length).Select(i => (i * 11 + 17) % 50000L).ToArray();
            var logits = model.Step(tensor(tokens), cache);
            for (int i = 0; i < order.Length; i++)
            {
                fed[i].Add(tokens[i]);
                var want = model.Logits(tensor(fed[i].ToArray()).unsqueeze(0), StatesOf(image[i]))[0, -1];
                double error = logits[i].sub(want).abs().max().item<float>();
                Assert.True(error < 1e-3, $"order [{string.Join(", ", order)}], row {i} (image {image[i]}): error {error}");
            }
        }
    }
}
