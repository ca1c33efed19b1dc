using CaptionService.Model.Generation;
using CaptionService.Model.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CaptionService.Model.Text;

/// <summary>
/// GPT-2 with cross-attention and a language-model head tied to the token embedding, named like
/// HF's <c>GPT2LMHeadModel</c>: <c>transformer.{wte, wpe, h.{i}, ln_f}</c>; <c>lm_head</c> is
/// <c>wte</c> itself and has no parameter of its own.
/// </summary>
public sealed class TextDecoder : NamedModule
{
    private readonly Embedding wte, wpe;
    private readonly Dropout drop;
    private readonly ModuleList<DecoderBlock> h;
    private readonly LayerNorm ln_f;

    public TextDecoder(ModelConfig config) : base(nameof(TextDecoder))
    {
        wte = nn.Embedding(config.VocabSize, config.DecoderWidth);
        wpe = nn.Embedding(config.MaxPositions, config.DecoderWidth);
        drop = nn.Dropout(config.EmbeddingDropout);
        h = nn.ModuleList(Enumerable.Range(0, config.DecoderLayers).Select(_ => new DecoderBlock(config)).ToArray());
        ln_f = nn.LayerNorm(config.DecoderWidth, eps: config.DecoderLayerNormEps);
        register_module("transformer", new Scope(("wte", wte), ("wpe", wpe), ("drop", drop), ("h", h), ("ln_f", ln_f)));
    }

    public IList<DecoderBlock> Blocks => h;

    public int MaxPositions => (int)wpe.weight!.shape[0];

    /// <summary>The token embedding's dtype: the residual stream's.</summary>
    public ScalarType EmbeddingDType => wte.weight!.dtype;

    /// <summary>Teacher-forced logits for whole sequences (training, scoring, full recompute).</summary>
    /// <param name="tokens">[B, T] token ids, starting with the start token</param>
    /// <param name="encoderStates">one [B, S, E] per block (interleaved) or one for all (final)</param>
    /// <returns>[B, T, V]</returns>
    public Tensor forward(Tensor tokens, IReadOnlyList<Tensor> encoderStates) => LmHead(Features(tokens, encoderStates));

    /// <summary>The final, layer-normed hidden states: [B, T, C] (the LM head's input).</summary>
    public Tensor Features(Tensor tokens, IReadOnlyList<Tensor> encoderStates)
    {
        var positions = ScalarSafety.Range(tokens.shape[1], tokens.device);
        var x = drop.forward(wte.forward(tokens).Plus(wpe.forward(positions)));      // [B, T, C]
        for (int i = 0; i < h.Count; i++)
        {
            using var blockScope = NewDisposeScope(); // free each block's intermediates when it is done
            var (k, v) = h[i].Cross.KeysValues(encoderStates[encoderStates.Count == 1 ? 0 : i]);
            x = h[i].forward(x, k, v).MoveToOuterDisposeScope();
        }
        return ln_f.forward(x);
    }

    /// <summary>Cross-attention keys and values for every block, computed once per image.</summary>
    public (Tensor Keys, Tensor Values)[] CrossKeysValues(IReadOnlyList<Tensor> encoderStates) =>
        h.Select((block, i) => block.Cross.KeysValues(encoderStates[encoderStates.Count == 1 ? 0 : i])).ToArray();

    /// <summary>One decoding step with the cache: one new token per sequence.</summary>
    /// <param name="tokens">[B] the last token of each sequence</param>
    /// <returns>[B, V] logits for the next token</returns>
    public Tensor Step(Tensor tokens, KvCache cache)
    {
        var x = wte.forward(tokens).Plus(wpe.forward(cache.Positions));             // [B, C]
        if (OnCpuKernels(x))
        {
            for (int i = 0; i < h.Count; i++) h[i].Step(x, cache, i);                 // x changes in place
        }
        else
        {
            x = x.unsqueeze(1);                                                     // [B, 1, C]
            for (int i = 0; i < h.Count; i++)
                x = h[i].forward(x, cache.CrossKeys[i], cache.CrossValues[i], cache, i);
            x = x.squeeze(1);
        }
        cache.Advance();
        return LmHead(ln_f.forward(x));
    }

    private PackedLinear? head;

    /// <summary>Packs every block's linear layers and the LM head for the <see cref="CpuKernels"/>
    /// (see <see cref="Captioner.UseCpuKernels"/>); the head in the dtype it computes in.</summary>
    internal void PackForCpuKernels()
    {
        foreach (var block in h) block.PackForCpuKernels();
        head?.Dispose();
        head = null;
        head = new PackedLinear(get_buffer(LowPrecisionHead) ?? wte.weight!, null);
    }

    /// <summary>Whether a step or the head runs on the CPU kernels: packed (<see cref="PackForCpuKernels"/>), in
    /// eval mode, float32 rows on the CPU.</summary>
    private bool OnCpuKernels(Tensor x) =>
        head is not null && !training && x.device_type == DeviceType.CPU && x.dtype == ScalarType.Float32;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            head?.Dispose();
            head = null;
        }
        base.Dispose(disposing);
    }

    private const string LowPrecisionHead = "lm_head_weight";

    /// <summary>Logits per position that a low-precision head recomputes in float32 (see <see cref="LmHead"/>).</summary>
    public const int ExactTopLogits = 32;

    /// <summary>Mixed precision (<see cref="Captioner.ToMixedPrecision"/>): the tied head computes in
    /// <paramref name="dtype"/> from its own copy of <c>wte</c>, as autocast runs it, while the token
    /// embedding lookup keeps the float32 weights. The copy is a non-persistent buffer: it moves with
    /// the module and no checkpoint holds it.</summary>
    public void UseHeadPrecision(ScalarType dtype)
    {
        using var _ = no_grad();
        register_buffer(LowPrecisionHead, wte.weight!.detach().to(dtype), persistent: false);
    }

    /// <summary>The tied head: logits = x · wteᵀ, [..., C] -> [..., V].</summary>
    /// <remarks>With a low-precision head (<see cref="UseHeadPrecision"/>) every logit is computed in
    /// that dtype, then the <see cref="ExactTopLogits"/> largest are recomputed from the float32
    /// weights: a bf16 logit is rounded to 8 bits (steps of 0.25 at 64), enough to reorder the
    /// leading tokens, so greedy and beam choices and the top of the distribution stay float32's.</remarks>
    public Tensor LmHead(Tensor x)
    {
        var weight = wte.weight!;
        var low = get_buffer(LowPrecisionHead);
        Tensor logits;
        if (OnCpuKernels(x))
        {
            logits = head!.Forward(x.reshape(-1, x.shape[^1])).view([.. x.shape[..^1], head.Outputs]); // float32 [..., V]
            if (low is null) return logits;
        }
        else if (low is null)
        {
            return F.linear(x.dtype == weight.dtype ? x : x.to(weight.dtype), weight);
        }
        else
        {
            logits = F.linear(x.to(low.dtype), low).to(x.dtype);                    // [..., V]
        }
        int k = Math.Min(ExactTopLogits, (int)weight.shape[0]);
        var top = OnCpuKernels(x) ? CpuKernels.TopK(logits.view(-1, logits.shape[^1]), k).view([.. logits.shape[..^1], k])
            : logits.topk(k, dim: -1).indexes;                                       // [..., K]
        var rows = weight.index_select(0, top.flatten()).view([.. top.shape, weight.shape[1]]); // [..., K, C]
        var exact = rows.matmul(x.to(weight.dtype).unsqueeze(-1)).squeeze(-1);       // [..., K]
        return logits.scatter_(-1, top, exact.to(logits.dtype));
    }
}
