using TorchSharp;

namespace CaptionService.Model;

/// <summary>
/// A parameter looked up by name on the module that registered it, each time it is read, so it
/// stays valid after <c>Module.to()</c> replaces the parameter object.
/// </summary>
internal readonly record struct ParamRef(torch.nn.Module Owner, string Name)
{
    public torch.Tensor Value => Owner.get_parameter(Name)
        ?? throw new InvalidOperationException($"parameter '{Name}' is not registered");
}
