using TorchSharp;

namespace CaptionService.Model;

/// <summary>
/// A container with no parameters of its own. It only gives its children a name prefix, so that
/// our parameter names are the pretrained checkpoints' names (for example HF ViT's
/// <c>attention.attention.query</c>) while the modules doing the work stay flat and readable.
/// </summary>
/// <remarks>
/// Only register modules here, never raw <see cref="TorchSharp.Modules.Parameter"/>s held elsewhere:
/// TorchSharp's <c>Module.to()</c> replaces a module's parameter objects, so a reference kept in
/// another class would point at a disposed tensor afterwards.
/// </remarks>
internal sealed class Scope : torch.nn.Module
{
    /// <summary>Children are registered by hand under the checkpoints' names; TorchSharp's
    /// default would register every module field again under its C# name.</summary>
    protected override void RegisterComponents() { }

    public Scope(params (string Name, torch.nn.Module Child)[] children) : base(nameof(Scope))
    {
        foreach (var (name, child) in children)
            register_module(name, child);
    }
}

/// <summary>
/// A parameter looked up by name on the module that registered it, each time it is read, so it
/// stays valid after <c>Module.to()</c> replaces the parameter object.
/// </summary>
internal readonly record struct ParamRef(torch.nn.Module Owner, string Name)
{
    public torch.Tensor Value => Owner.get_parameter(Name)
        ?? throw new InvalidOperationException($"parameter '{Name}' is not registered");
}
