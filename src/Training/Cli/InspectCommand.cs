using System.CommandLine;
using CaptionService.Model;

namespace CaptionService.Training.Cli;

/// <summary><c>captioner inspect --preset NAME | --checkpoint DIR</c>: sizes, layout and parameter counts.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var model = new ModelArguments();
        var command = new Command("inspect", "Print a model's shape and parameter counts");
        model.AddTo(command);
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            var (captioner, source) = model.Load(result);
            var c = captioner.Config;
            var counts = captioner.CountParameters();
            output.WriteLine($"source: {source}");
            output.WriteLine($"encoder_layout: {Json(c.EncoderLayout)}");
            output.WriteLine($"cross_attention_mode: {Json(c.CrossAttention)}");
            output.WriteLine($"image: {c.ImageSize}x{c.ImageSize}, patch {c.PatchSize}, {c.NumPatches + 1} tokens");
            var steps = c.EffectivePreprocessing;
            output.WriteLine($"preprocessing: {steps.Source}");
            foreach (var step in steps.Describe(c.ImageSize, c.ImageMean, c.ImageStd)) output.WriteLine($"  {step}");
            output.WriteLine($"encoder_blocks: {c.EncoderLayers} x width {c.EncoderWidth}, {c.EncoderHeads} heads");
            output.WriteLine($"decoder_blocks: {c.DecoderLayers} x width {c.DecoderWidth}, {c.DecoderHeads} heads, vocab {c.VocabSize}, {c.MaxPositions} positions");
            output.WriteLine($"encoder: {counts.Encoder}");
            output.WriteLine($"decoder: {counts.Decoder}");
            output.WriteLine($"cross_attention: {counts.CrossAttention}");
            output.WriteLine($"total: {counts.Total}");
            output.WriteLine($"dtype: {TorchRuntime.Name(captioner.DType)}");
            output.WriteLine($"device: {captioner.Device}");
            output.WriteLine($"mkl_intel_path: {MklIntelPath.Status}");
        });
        return command;
    }

    private static string Json<T>(T value) => System.Text.Json.JsonSerializer.Serialize(value, ModelConfig.Json).Trim('"');
}
