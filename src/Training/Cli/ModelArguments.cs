using System.CommandLine;
using CaptionService.Hub;
using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using TorchSharp;

namespace CaptionService.Training.Cli;

/// <summary>Where a command's model comes from (a checkpoint, or a preset with random weights)
/// and where it runs.</summary>
internal sealed class ModelArguments
{
    public Option<string?> Checkpoint { get; } = new("--checkpoint")
    {
        Description = "Checkpoint directory (ours, or an HF ViT-GPT2 VisionEncoderDecoder folder), or hf:OWNER/NAME[@REVISION] on the Hugging Face Hub",
    };
    public Option<string?> Preset { get; } = new("--preset") { Description = $"Random weights of a preset instead: {string.Join(", ", Presets.All.Keys)}" };
    public Option<long> Seed { get; } = new("--init-seed") { Description = "Seed for --preset's random weights", DefaultValueFactory = _ => 0 };
    public Option<string> Device { get; } = new("--device") { Description = "auto, cpu, cuda or cuda:N", DefaultValueFactory = _ => "auto" };
    public Option<string> DType { get; } = new("--dtype") { Description = "fp32, bf16 (CPU or CUDA), fp16 (CUDA), or auto (bf16 where the hardware computes it natively, else fp32; fp16 on older GPUs)", DefaultValueFactory = _ => "fp32" };
    public Option<bool> Mixed { get; } = new("--mixed-precision")
    {
        Description = "With bf16/fp16: the linear layers and the LM head in that dtype, norms, embeddings and residual stream in fp32 (false: the whole model)",
        DefaultValueFactory = _ => true,
    };

    public void AddTo(Command command, bool withPlacement = true)
    {
        command.Options.Add(Checkpoint);
        command.Options.Add(Preset);
        command.Options.Add(Seed);
        if (!withPlacement) return;
        command.Options.Add(Device);
        command.Options.Add(DType);
        command.Options.Add(Mixed);
    }

    /// <summary>Builds or loads the model on the chosen device and precision, in eval mode.</summary>
    public (Captioner Model, string Source) Load(ParseResult result, bool place = true)
    {
        var reference = result.GetValue(Checkpoint);
        var preset = result.GetValue(Preset);
        if ((reference is null) == (preset is null))
            throw new CliException("give exactly one of --checkpoint DIR|hf:OWNER/NAME or --preset NAME");
        var device = place ? TorchRuntime.ResolveDevice(result.GetValue(Device)!) : torch.CPU;
        var precision = place ? TorchRuntime.ResolvePrecision(result.GetValue(DType)!, device).Precision : Precision.Fp32;
        var dtype = TorchRuntime.ScalarTypeOf(precision);
        Captioner model;
        string source;
        if (reference is not null)
        {
            var resolved = HubModels.Resolve(reference, ModelPurpose.Captioner, result.InvocationConfiguration.Error);
            model = Model.Checkpoints.Checkpoint.Load(resolved.Directory, device, convertedWeights: resolved.ConvertedWeights);
            source = HubModels.Describe(resolved);
        }
        else
        {
            torch.manual_seed(result.GetValue(Seed));
            model = new Captioner(Presets.Get(preset!));
            model.to(device);
            source = $"preset {preset} (random weights, seed {result.GetValue(Seed)})";
        }
        model.ToPrecision(dtype, place && result.GetValue(Mixed)).eval();
        return (model, source);
    }
}
