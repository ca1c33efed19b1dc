using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CaptionService.Model.Vision;

/// <summary>
/// The ViT: patch embedding, a class token, learned positions, pre-norm blocks, and (only when the
/// decoder reads the final states) a final LayerNorm.
/// Names: timm <c>patch_embed.proj, cls_token, pos_embed, blocks.{i}, norm</c>;
/// HF <c>embeddings.{patch_embeddings.projection, cls_token, position_embeddings}, encoder.layer.{i}, layernorm</c>.
/// </summary>
public sealed class VisionEncoder : NamedModule
{
    private readonly PatchEmbedding patchEmbed;
    private readonly ParamRef clsToken, posEmbed;   // [1, 1, C], [1, N+1, C]
    private readonly ModuleList<VitBlock> blocks;
    private readonly LayerNorm? norm;                // absent in interleaved mode, where nothing reads it
    private readonly int headDims;

    public VisionEncoder(ModelConfig config) : base(nameof(VisionEncoder))
    {
        patchEmbed = new PatchEmbedding(config);
        headDims = config.EncoderWidth / config.EncoderHeads;
        blocks = nn.ModuleList(Enumerable.Range(0, config.EncoderLayers).Select(_ => new VitBlock(config)).ToArray());
        if (config.CrossAttention == CrossAttentionMode.Final)
            norm = nn.LayerNorm(config.EncoderWidth, eps: config.EncoderEps);

        var cls = new Parameter(zeros(1, 1, config.EncoderWidth));
        var pos = new Parameter(zeros(1, config.NumPatches + 1, config.EncoderWidth));
        if (config.EncoderLayout == EncoderLayout.Timm)
        {
            register_module("patch_embed", patchEmbed);
            register_parameter("cls_token", cls);
            register_parameter("pos_embed", pos);
            register_module("blocks", blocks);
            if (norm is not null) register_module("norm", norm);
            (clsToken, posEmbed) = (new(this, "cls_token"), new(this, "pos_embed"));
        }
        else
        {
            var embeddings = new Scope(("patch_embeddings", patchEmbed));
            embeddings.register_parameter("cls_token", cls);
            embeddings.register_parameter("position_embeddings", pos);
            register_module("embeddings", embeddings);
            register_module("encoder", new Scope(("layer", blocks)));
            if (norm is not null) register_module("layernorm", norm);
            (clsToken, posEmbed) = (new(embeddings, "cls_token"), new(embeddings, "position_embeddings"));
        }
    }

    /// <summary>Runs the ViT and returns the states the decoder attends to.</summary>
    /// <param name="pixels">[B, 3, S, S], normalized</param>
    /// <returns>Interleaved: the output of every block (L tensors [B, N+1, C]);
    /// final: the layer-normed output of the last block, once.</returns>
    public Tensor[] forward(Tensor pixels)
    {
        var encoding = Begin(pixels);
        Continue(encoding, blocks.Count);
        return End(encoding);
    }

    /// <summary>The patches, class token and positions: the input of block 0.</summary>
    public ViTEncoding Begin(Tensor pixels)
    {
        var patches = patchEmbed.forward(pixels);                                   // [B, N, C]
        var cls = clsToken.Value.expand(patches.shape[0], -1, -1);                  // [B, 1, C]
        if (patches.dtype != cls.dtype) patches = patches.to(cls.dtype);           // mixed precision: the residual stream stays float32
        return new ViTEncoding(cat([cls, patches], dim: 1).Plus(posEmbed.Value));   // [B, N+1, C]
    }

    /// <summary>Runs up to <paramref name="count"/> more blocks of <paramref name="encoding"/>.</summary>
    public void Continue(ViTEncoding encoding, int count)
    {
        int stop = encoding.BlocksDone + Math.Clamp(count, 0, blocks.Count - encoding.BlocksDone);
        while (encoding.BlocksDone < stop)
        {
            // Each block's intermediates (at batch 32 and full size about 0.4 GB) are freed as soon as
            // the block is done, not when the caller's scope ends: less peak memory, and the next
            // block reuses warm pages instead of faulting in new ones.
            using var blockScope = NewDisposeScope();
            encoding.States.Add(blocks[encoding.BlocksDone].forward(encoding.States[^1]).MoveToOuterDisposeScope());
        }
    }

    /// <summary>Packs every block's linear layers for the <see cref="Kernels.CpuKernels"/> (see
    /// <see cref="Captioner.UseCpuKernels"/>) when they can take them: bf16 linear layers beside a float32
    /// residual stream (mixed precision). Returns null when packed, else why not.</summary>
    internal string? PackForCpuKernels()
    {
        var dtypes = blocks.SelectMany(b => b.parameters()).Where(p => p.dim() == 2).Select(p => p.dtype).Distinct().ToList();
        string? why = dtypes is not [ScalarType.BFloat16] ? $"its linear layers are {string.Join(", ", dtypes.Select(TorchRuntime.Name))} (its kernels take bf16)"
            : clsToken.Value.dtype != ScalarType.Float32 ? $"its residual stream is {TorchRuntime.Name(clsToken.Value.dtype)}"
            : !Kernels.CpuKernels.Bf16 ? $"no bf16 kernels ({Kernels.CpuKernels.Status})"
            : headDims % 2 != 0 ? $"its attention kernel takes heads of an even number of dimensions (these have {headDims})"
            : null;
        if (why is null)
            foreach (var block in blocks) block.PackForCpuKernels();
        return why;
    }

    public bool IsDone(ViTEncoding encoding) => encoding.BlocksDone == blocks.Count;

    /// <summary>What the decoder attends to, once every block has run (see <see cref="forward"/>).</summary>
    public Tensor[] End(ViTEncoding encoding)
    {
        if (!IsDone(encoding))
            throw new InvalidOperationException($"the encoding has run {encoding.BlocksDone} of {blocks.Count} blocks");
        return norm is null ? encoding.States.Skip(1).ToArray() : [norm.forward(encoding.States[^1])];
    }
}

/// <summary>
/// Images part-way through the ViT: the input of block 0, then each block's output ([B, N+1, C] each). Running a
/// few blocks at a time (<see cref="VisionEncoder.Continue"/>) lets a server spread a newcomer's encoding over
/// several decoding steps of the captions already running. The tensors belong to the dispose scope they were made
/// in; <see cref="DetachFromDisposeScope"/> hands them to this object, and then <see cref="Dispose"/> frees them.
/// </summary>
public sealed class ViTEncoding(Tensor embedded) : IDisposable
{
    internal List<Tensor> States { get; } = [embedded];

    public int BlocksDone => States.Count - 1;

    public ViTEncoding DetachFromDisposeScope()
    {
        foreach (var state in States) state.DetachFromDisposeScope();
        return this;
    }

    public void Dispose()
    {
        foreach (var state in States) state.Dispose();
        States.Clear();
    }
}
