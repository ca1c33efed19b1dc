using CaptionService.Model;
using CaptionService.Training.Training;

namespace CaptionService.Training.Tests.Training;

public class StagesTests
{
    [Fact]
    public void The_seed_s_recipe_unfreezes_cross_attention_then_gpt2_then_everything()
    {
        var model = new Captioner(Presets.Tiny);
        var counts = model.CountParameters();
        var seed = new TrainOptions(); // full-size defaults: decoder from epoch 1, encoder from epoch 2
        Assert.Equal(counts.CrossAttention, Stages.Apply(0, seed, model));
        Assert.All(model.named_parameters(), p => Assert.Equal(Captioner.IsCrossAttention(p.name), p.parameter.requires_grad));
        Assert.Equal(counts.CrossAttention + counts.Decoder, Stages.Apply(1, seed, model));
        Assert.Equal(counts.Total, Stages.Apply(2, seed, model));
        Assert.Equal("cross-attention only", Stages.Describe(0, seed));
        Assert.Equal("everything", Stages.Describe(4, seed));
    }

    [Fact]
    public void Small_models_train_everything_from_the_start()
    {
        var options = TrainOptions.For(Presets.Tiny);
        var model = new Captioner(Presets.Tiny);
        Assert.Equal(model.CountParameters().Total, Stages.Apply(0, options, model));
        Assert.Equal(new TrainOptions(), TrainOptions.For(Presets.VitB16Gpt2));
    }
}
