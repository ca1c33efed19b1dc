using static TorchSharp.torch;

namespace CaptionService.Model;

/// <summary>
/// A module whose children are registered by hand (<c>register_module</c>) under the pretrained
/// checkpoints' names. TorchSharp's default would register every module field again, under its C# name.
/// </summary>
public abstract class NamedModule(string name) : nn.Module(name)
{
    protected sealed override void RegisterComponents() { }
}
