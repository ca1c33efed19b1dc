using CaptionService.Model.Checkpoints;
using static TorchSharp.torch;

namespace CaptionService.Model.Tests.Checkpoints;

public class HfConvertedOnceTests
{
    private static void WriteHf(TempDir dir)
    {
        var tensors = TestFiles.Random(SourceKeys.HfVitGpt2(width: 32, layers: 2, mlp: 64, patch: 8, image: 32, vocab: 100, positions: 16), seed: 5);
        tensors["decoder.lm_head.weight"] = tensors["decoder.transformer.wte.weight"].clone();
        TestFiles.Save(dir["hf/model.safetensors"], tensors);
        TestFiles.Json(dir["hf/config.json"], TestFiles.VisionEncoderDecoderConfig(width: 32, layers: 2, heads: 4, mlp: 64, image: 32, patch: 8,
            vocab: 100, positions: 16, endToken: 99));
        TestFiles.Json(dir["hf/" + HfImporter.PreprocessorFileName], TestFiles.Preprocessor(32));
    }

    [Fact]
    public void The_first_load_converts_and_keeps_the_weights_and_later_loads_read_them_with_the_config_read_afresh()
    {
        using var dir = new TempDir();
        WriteHf(dir);
        var hf = Path.Combine(dir.Path, "hf");
        var converted = dir["converted/commit/model.safetensors"];

        using var atLoad = Checkpoint.Load(hf);
        using var first = Checkpoint.Load(hf, convertedWeights: converted);
        Assert.True(File.Exists(converted));
        Assert.DoesNotContain("decoder.lm_head.weight", WeightSource.ReadShapes(converted).Keys); // our names: the head is wte
        using var second = Checkpoint.Load(hf, convertedWeights: converted);
        foreach (var (name, p) in ImportPlan.TensorsOf(atLoad))
        {
            Assert.True(CheckpointTests.Same(p, ImportPlan.TensorsOf(first)[name]), name);
            Assert.True(CheckpointTests.Same(p, ImportPlan.TensorsOf(second)[name]), name);
        }

        // The config is the HF files' of now (a changed generation setting shows), the weights the kept ones.
        File.WriteAllText(Path.Combine(hf, HfImporter.GenerationFileName), """{"num_beams": 4}""");
        using var third = Checkpoint.Load(hf, convertedWeights: converted);
        Assert.Equal((DecodingStrategy.Beam, 4), (third.Config.Decoding.Strategy, third.Config.Decoding.NumBeams));
    }

    [Fact]
    public void Kept_weights_that_no_longer_fit_are_converted_again()
    {
        using var dir = new TempDir();
        WriteHf(dir);
        var hf = Path.Combine(dir.Path, "hf");
        var converted = dir["converted/model.safetensors"];
        TestFiles.Save(converted, new Dictionary<string, Tensor> { ["encoder.embeddings.cls_token"] = zeros(1, 1, 8) }); // stale or foreign

        using var model = Checkpoint.Load(hf, convertedWeights: converted);

        Assert.Equal(ImportPlan.TensorsOf(model).Count, WeightSource.ReadShapes(converted).Count);
    }
}
