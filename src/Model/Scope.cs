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
internal sealed class Scope : NamedModule
{
    public Scope(params (string Name, torch.nn.Module Child)[] children) : base(nameof(Scope))
    {
        foreach (var (name, child) in children)
            register_module(name, child);
    }
}
