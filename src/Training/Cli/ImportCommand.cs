using System.CommandLine;
using CaptionService.Hub;
using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using TorchSharp;

namespace CaptionService.Training.Cli;

/// <summary>
/// <c>captioner import-pretrained timm-gpt2 --vit V --gpt2 G --out DIR</c>: the seed's starting point
/// (timm ViT-B/16 + HF GPT-2, new cross-attention);
/// <c>captioner import-pretrained hf --source DIR --out DIR</c>: an HF VisionEncoderDecoder ViT-GPT2 captioner.
/// Every source may also be <c>hf:OWNER/NAME[@REVISION]</c>, fetched from the Hugging Face Hub.
/// </summary>
internal static class ImportCommand
{
    public static Command Create()
    {
        var command = new Command("import-pretrained", "Turn pretrained weights into a checkpoint");
        command.Subcommands.Add(TimmGpt2());
        command.Subcommands.Add(Hf());
        return command;
    }

    private static Command TimmGpt2()
    {
        var vit = new Option<string>("--vit")
        {
            Description = "timm vit_base_patch16_224: a .safetensors/.bin file or its folder, or hf:timm/vit_base_patch16_224.augreg2_in21k_ft_in1k",
            Required = true,
        };
        var gpt2 = new Option<string>("--gpt2")
        {
            Description = "HF gpt2 folder (config.json + model.safetensors or pytorch_model.bin) or weights file, or hf:openai-community/gpt2",
            Required = true,
        };
        var cross = new Option<CrossAttentionMode>("--cross-attention") { Description = "interleaved (the seed) or final", DefaultValueFactory = _ => CrossAttentionMode.Interleaved };
        var outDir = Output();
        var seed = new Option<long>("--seed") { Description = "Seed for the new cross-attention weights", DefaultValueFactory = _ => 0 };
        var preprocessing = new Option<TimmTransform>("--preprocessing")
        {
            Description = "Image transform the checkpoint records, and training and serving use: seed (resize to the input size, no crop) " +
                "or timm (the ViT's eval transform: crop_pct and crop_mode); both take interpolation, mean and std from the pretrained_cfg in the ViT's config.json",
            DefaultValueFactory = _ => TimmTransform.Seed,
        };
        var command = new Command("timm-gpt2", "timm ViT + HF GPT-2 with new cross-attention (the seed's starting point)") { vit, gpt2, cross, outDir, seed, preprocessing };
        command.SetAction(result =>
        {
            torch.manual_seed(result.GetValue(seed));
            var baseConfig = Presets.VitB16Gpt2 with { CrossAttention = result.GetValue(cross) };
            var error = result.InvocationConfiguration.Error;
            var vitSource = HubModels.Resolve(result.GetValue(vit)!, ModelPurpose.TimmVit, error).Directory;
            var gpt2Source = HubModels.Resolve(result.GetValue(gpt2)!, ModelPurpose.Gpt2, error).Directory;
            var imported = TimmImporter.Import(vitSource, gpt2Source, baseConfig, result.GetValue(preprocessing));
            Save(imported, result.GetValue(outDir)!, result.InvocationConfiguration.Output);
        });
        return command;
    }

    private static Command Hf()
    {
        var source = new Option<string>("--source")
        {
            Description = "HF VisionEncoderDecoder folder (config.json, preprocessor_config.json, weights), or hf:OWNER/NAME[@REVISION]",
            Required = true,
        };
        var outDir = Output();
        var command = new Command("hf", "An HF ViT-GPT2 captioner (e.g. nlpconnect/vit-gpt2-image-captioning)") { source, outDir };
        command.SetAction(result =>
        {
            var folder = HubModels.Resolve(result.GetValue(source)!, ModelPurpose.HfVisionEncoderDecoder, result.InvocationConfiguration.Error).Directory;
            Save(HfImporter.Import(folder), result.GetValue(outDir)!, result.InvocationConfiguration.Output);
        });
        return command;
    }

    private static Option<DirectoryInfo> Output() => new("--out") { Description = "Checkpoint directory to write", Required = true };

    private static void Save(ImportResult imported, DirectoryInfo dir, TextWriter output)
    {
        using var model = imported.Model;
        Checkpoint.Save(model, dir.FullName);
        var counts = model.CountParameters();
        output.WriteLine($"wrote {dir.FullName}");
        output.WriteLine(imported.Report);
        output.WriteLine($"encoder: {counts.Encoder}");
        output.WriteLine($"decoder: {counts.Decoder}");
        output.WriteLine($"cross_attention: {counts.CrossAttention}");
        output.WriteLine($"total: {counts.Total}");
    }
}
