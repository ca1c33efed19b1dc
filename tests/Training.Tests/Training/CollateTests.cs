using CaptionService.Model.Text;
using CaptionService.Training.Data;

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
    }
}
