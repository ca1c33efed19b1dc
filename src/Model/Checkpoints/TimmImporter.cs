using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace CaptionService.Model.Checkpoints;

/// <summary>
/// The seed's starting point: a timm ViT (<c>vit_base_patch16_224</c>'s names) and Hugging Face
/// <c>gpt2</c>, joined by new cross-attention layers. ViT sizes are read off the tensors; GPT-2 sizes
/// from the gpt2 folder's <c>config.json</c> when there is one, else off the tensors. Attention heads
/// (not visible in the tensors) come from the base config.
/// </summary>
/// <remarks>
/// Every model parameter is copied, except the cross-attention layers and their norms, which keep the
/// Captioner's fresh init (weights normal(0, 0.02), biases zero, norms ones/zeros). timm's final
/// <c>norm</c> is loaded only in <see cref="CrossAttentionMode.Final"/> mode; in interleaved mode each
/// decoder block reads its encoder block's raw output, nothing reads the final norm, and it is ignored.
/// </remarks>
public static partial class TimmImporter
{
    /// <summary>Classifier parts of a timm ViT, which a captioner does not use.</summary>
    public static IReadOnlyList<string> ClassifierPrefixes { get; } = ["head.", "fc_norm.", "pre_logits."];

    /// <param name="vit">a timm ViT weights file, or a folder holding one</param>
    /// <param name="gpt2">a GPT-2 folder (<c>model.safetensors</c> or <c>pytorch_model.bin</c>, optional <c>config.json</c>) or weights file</param>
    /// <param name="baseConfig">everything not read from the sources (default <see cref="Presets.VitB16Gpt2"/>)</param>
    /// <param name="transform">the preprocessing recorded: the seed's (default) or the ViT's own eval transform,
    /// both from the <c>pretrained_cfg</c> of the <c>config.json</c> beside the ViT weights (<see cref="TimmPretrainedCfg"/>)</param>
    public static ImportResult Import(string vit, string gpt2, ModelConfig? baseConfig = null, TimmTransform transform = TimmTransform.Seed)
    {
        var (vitFile, gptFile) = (WeightSource.Find(vit), WeightSource.Find(gpt2));
        var gptConfig = Path.Combine(Directory.Exists(gpt2) ? gpt2 : Path.GetDirectoryName(Path.GetFullPath(gptFile))!, "config.json");
        var vitConfig = Path.Combine(Directory.Exists(vit) ? vit : Path.GetDirectoryName(Path.GetFullPath(vitFile))!, "config.json");
        var vitTensors = WeightSource.Load(vitFile);
        Dictionary<string, Tensor> gptTensors;
        try
        {
            gptTensors = WeightSource.Load(gptFile);
        }
        catch
        {
            WeightCopier.DisposeAll([vitTensors]);
            throw;
        }
        var (vitShapes, gptShapes) = (WeightSource.ShapesOf(vitTensors), WeightSource.ShapesOf(gptTensors));
        var notes = new List<string>();
        return WeightCopier.BuildAndCopy([vitTensors, gptTensors],
            () => TimmPretrainedCfg.Apply(
                ConfigFor(vitShapes, gptShapes, baseConfig ?? Presets.VitB16Gpt2, File.Exists(gptConfig) ? gptConfig : null, vitFile, gptFile),
                File.Exists(vitConfig) && vitConfig != gptConfig ? vitConfig : null, transform, notes),
            (config, shapes) => Plan(vitShapes, gptShapes, config, shapes, vitFile, gptFile), notes);
    }

    /// <summary>The model config: ViT sizes from the timm tensors, GPT-2 sizes from its config.json or tensors.</summary>
    public static ModelConfig ConfigFor(IReadOnlyDictionary<string, long[]> vit, IReadOnlyDictionary<string, long[]> gpt2,
        ModelConfig baseConfig, string? gpt2ConfigPath = null, string vitPath = "vit", string gpt2Path = "gpt2")
    {
        long[] Need(string name) => vit.TryGetValue(name, out var s) ? s
            : throw new InvalidDataException($"{vitPath}: no '{name}': not a timm ViT checkpoint");
        var cls = Need("cls_token");                 // [1, 1, C]
        var patch = Need("patch_embed.proj.weight"); // [C, channels, P, P]
        var pos = Need("pos_embed");                 // [1, 1 + (S/P)^2, C]: the class token's position first
        var fc1 = Need("blocks.0.mlp.fc1.weight");   // [mlp, C]
        var blocks = vit.Keys.Select(k => BlockIndex().Match(k)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).ToList();
        int grid = (int)Math.Round(Math.Sqrt(pos[1] - 1));
        if (grid * grid != pos[1] - 1)
            throw new InvalidDataException($"{vitPath}: pos_embed {Shapes.Format(pos)} is not 1 + a square number of patches");

        var config = baseConfig with
        {
            EncoderLayout = EncoderLayout.Timm,
            EncoderWidth = (int)cls[2],
            EncoderLayers = blocks.Max() + 1, // blocks.0 exists (fc1 above)
            EncoderMlpWidth = (int)fc1[0],
            NumChannels = (int)patch[1],
            PatchSize = (int)patch[2],
            ImageSize = grid * (int)patch[2],
        };
        config = Gpt2.SizesFromShapes(config, gpt2, gpt2Path);
        if (gpt2ConfigPath is not null)
        {
            var json = JsonFile.Read(gpt2ConfigPath);
            config = Gpt2.ApplyConfig(config, json);
            int? eos = json.Int("eos_token_id");
            config = config with
            {
                BosTokenId = json.Int("bos_token_id") ?? config.BosTokenId,
                EosTokenId = eos ?? config.EosTokenId,
                PadTokenId = json.Int("pad_token_id") ?? eos ?? config.PadTokenId, // GPT-2 has no pad token: pad with end
            };
        }
        var errors = config.Validate().ToList();
        if (errors.Count > 0)
            throw new InvalidDataException($"The config built from {vitPath} and {gpt2ConfigPath ?? gpt2Path} is invalid: {string.Join("; ", errors)}");
        return config;
    }

    [GeneratedRegex(@"^blocks\.(\d+)\.")]
    private static partial Regex BlockIndex();

    /// <summary>The name/shape mapping, without tensors. Only cross-attention may stay new.</summary>
    public static ImportPlan Plan(IReadOnlyDictionary<string, long[]> vit, IReadOnlyDictionary<string, long[]> gpt2, ModelConfig config,
        IReadOnlyDictionary<string, long[]> model, string vitPath = "vit", string gpt2Path = "gpt2") =>
        ImportPlan.Build(
            [new WeightFile("vit", vitPath, vit, name => MapVit(name, config.CrossAttention)), new WeightFile("gpt2", gpt2Path, gpt2, Gpt2.Map)],
            model, Captioner.IsCrossAttention);

    /// <summary>timm names are ours under <c>encoder.</c>; classifier parts are ignored, and so is
    /// the final norm in interleaved mode.</summary>
    public static WeightMapping MapVit(string name, CrossAttentionMode mode)
    {
        if (ClassifierPrefixes.Any(name.StartsWith)) return WeightMapping.Ignore("classifier");
        if (name.StartsWith("norm.") && mode == CrossAttentionMode.Interleaved)
            return WeightMapping.Ignore("final norm: unused in interleaved mode");
        return WeightMapping.Copy("encoder." + name);
    }
}
