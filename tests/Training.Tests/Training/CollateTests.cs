using CaptionService.Model;
using CaptionService.Model.Text;
using CaptionService.Training.Data;
using TorchSharp;

namespace CaptionService.Training.Tests.Training;

public class CollateTests
{
    [Fact]
    public void Start_token_in_labels_shifted_and_padding_ignored_by_length()
    {
        var tokenizer = CaptionTokenizer.Default;
        var images = new[] { new float[3 * 2 * 2], new float[3 * 2 * 2] };
        using var batch = Collate.Make(images, ["A dog running on the beach.", "A dog."], tokenizer, imageSize: 2, maxLength: 32);
        var input = batch.Input.data<long>().ToArray();
        var labels = batch.Labels.data<long>().ToArray();
        Assert.Equal(new long[] { 2, 8 }, batch.Input.shape); // longest: start + 7 tokens
        Assert.Equal(new long[] { 50256, 32, 3290, 2491, 319, 262, 10481, 13 }, input[..8]);
        Assert.Equal(new long[] { 32, 3290, 2491, 319, 262, 10481, 13, 50256 }, labels[..8]);
        // "A dog." = 32 3290 13: three real positions plus the start token, the rest padding.
        Assert.Equal(new long[] { 50256, 32, 3290, 13, 50256, 50256, 50256, 50256 }, input[8..]);
        Assert.Equal(new long[] { 32, 3290, 13, 50256, -100, -100, -100, -100 }, labels[8..]);
        Assert.Equal(8 + 4, batch.Tokens);
        Assert.Equal(new long[] { 2, 3, 2, 2 }, batch.Pixels.shape);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 }, batch.Positions.data<long>().ToArray());
    }

    [Fact]
    public void The_loss_over_the_real_positions_only_is_the_loss_with_padding_ignored()
    {
        torch.manual_seed(3);
        using var model = new Captioner(Presets.Tiny);
        model.eval();
        var image = torch.randn(3 * 32 * 32).data<float>().ToArray();
        using var batch = Collate.Make([image, image, image], ["A dog running on the beach.", "A dog.", "Two cats on a red sofa"],
            CaptionTokenizer.Default, imageSize: 32, maxLength: 32);
        using var all = model.Loss(batch.Pixels, batch.Input, batch.Labels, Collate.IgnoreIndex, chunk: 5);
        using var real = model.Loss(batch.Pixels, batch.Input, batch.Labels, Collate.IgnoreIndex, chunk: 5, positions: batch.Positions);
        Assert.Equal(all.item<float>(), real.item<float>(), tolerance: 1e-4f); // fp32 sums over different chunkings
    }

    [Fact]
    public void Encoding_each_image_once_for_all_its_captions_gives_the_loss_of_repeating_it()
    {
        torch.manual_seed(4);
        using var model = new Captioner(Presets.Tiny);
        model.eval();
        var a = torch.randn(3 * 32 * 32).data<float>().ToArray();
        var b = torch.randn(3 * 32 * 32).data<float>().ToArray();
        string[] ofA = ["A dog running on the beach.", "A dog."], ofB = ["Two cats on a red sofa"];
        using var shared = Collate.Make([a, b], [ofA, ofB], CaptionTokenizer.Default, imageSize: 32, maxLength: 32);
        using var repeated = Collate.Make([a, a, b], [.. ofA, .. ofB], CaptionTokenizer.Default, imageSize: 32, maxLength: 32);
        Assert.Equal(new long[] { 2, 3, 32, 32 }, shared.Pixels.shape);
        Assert.Equal(new long[] { 0, 0, 1 }, shared.ImageOfCaption!.data<long>().ToArray());
        Assert.Null(repeated.ImageOfCaption);
        Assert.Equal(repeated.Input.data<long>().ToArray(), shared.Input.data<long>().ToArray());
        using var once = model.Loss(shared.Pixels, shared.Input, shared.Labels, Collate.IgnoreIndex, positions: shared.Positions,
            imageOfCaption: shared.ImageOfCaption);
        using var thrice = model.Loss(repeated.Pixels, repeated.Input, repeated.Labels, Collate.IgnoreIndex, positions: repeated.Positions);
        Assert.Equal(thrice.item<float>(), once.item<float>(), tolerance: 1e-5f);
    }

    [Fact]
    public void An_image_without_captions_is_refused_instead_of_shifting_the_others()
    {
        var image = new float[3 * 2 * 2];
        var e = Assert.Throws<ArgumentException>(() => Collate.Make([image, image], [["a dog", "a cat"], []], CaptionTokenizer.Default, imageSize: 2, maxLength: 8));
        Assert.Contains("1 of them empty", e.Message);
        Assert.Throws<ArgumentException>(() => Collate.Make([image, image], [["a dog"]], CaptionTokenizer.Default, imageSize: 2, maxLength: 8));
    }
}
