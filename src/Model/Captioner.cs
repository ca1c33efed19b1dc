using CaptionService.Model.Generation;
using CaptionService.Model.Text;
using CaptionService.Model.Vision;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace CaptionService.Model;

/// <summary>Parameter counts by part, as <c>captioner inspect</c> prints them.</summary>
public sealed record ParameterCounts(long Encoder, long Decoder, long CrossAttention)
{
    public long Total => Encoder + Decoder + CrossAttention;
}

/// <summary>
/// The whole captioner: a ViT <c>encoder</c> and a GPT-2 <c>decoder</c> whose blocks cross-attend to
/// the image. Parameter names are those of HF's VisionEncoderDecoderModel
/// (<c>encoder.*</c>, <c>decoder.transformer.*</c>), with timm names inside the encoder for the
/// timm layout.
/// </summary>
public sealed class Captioner : NamedModule
{
    private readonly VisionEncoder encoder;
    private readonly TextDecoder decoder;

    public ModelConfig Config { get; }

    /// <param name="initialize">false skips the random init, for a model whose every weight is about to be overwritten (checkpoint loading)</param>
    public Captioner(ModelConfig config, bool initialize = true) : base(nameof(Captioner))
    {
        Config = config.EnsureValid();
        encoder = new VisionEncoder(config);
        decoder = new TextDecoder(config);
        register_module("encoder", encoder);
        register_module("decoder", decoder);
        if (initialize) InitializeWeights();
    }

    public TextDecoder Decoder => decoder;

    public Device Device => decoder.Blocks[0].Cross.parameters().First().device;
    public ScalarType DType => decoder.Blocks[0].Cross.parameters().First().dtype;

    /// <summary>Teacher-forced logits. pixels [B, 3, S, S], tokens [B, T] -> [B, T, V].</summary>
    public Tensor forward(Tensor pixels, Tensor tokens) => decoder.forward(tokens, encoder.forward(pixels));

    /// <summary>
    /// Mean next-token cross-entropy over the label positions that are not <paramref name="ignoreIndex"/>.
    /// The LM head and the loss run over chunks of <paramref name="chunk"/> positions, so the
    /// [B, T, V] logits are never one allocation (V = 50257: 100 MB at B = 32, T = 16; allocations
    /// that large cost more in page faults than the matmul that fills them). Logits are upcast to fp32.
    /// </summary>
    /// <param name="pixels">[B, 3, S, S]</param>
    /// <param name="tokens">[B, T] start token + caption</param>
    /// <param name="labels">[B, T] caption + end token, <paramref name="ignoreIndex"/> on padding</param>
    /// <param name="positions">optional [N] int64: the flat indices (b * T + t) of the label positions that are not
    /// padding, made on the host; the LM head then runs on those N positions only (padding is about a third of a
    /// batch of short captions), with the same result</param>
    /// <param name="imageOfCaption">optional [B] int64: the image (row of <paramref name="pixels"/>, which then has
    /// [I, 3, S, S]) of each caption; each image is encoded once, whatever the number of its captions</param>
    public Tensor Loss(Tensor pixels, Tensor tokens, Tensor labels, long ignoreIndex = -100, int chunk = 64, Tensor? positions = null,
        Tensor? imageOfCaption = null)
    {
        var states = encoder.forward(pixels);                                             // each [I, N, C]
        if (imageOfCaption is not null)
            states = states.Select(s => s.index_select(0, imageOfCaption)).ToArray();     // each [B, N, C]
        var hidden = decoder.Features(tokens, states).flatten(0, 1);                      // [B*T, C]
        var targets = labels.flatten();                                                   // [B*T]
        if (positions is not null)
        {
            hidden = hidden.index_select(0, positions);                                   // [N, C]
            targets = targets.index_select(0, positions);                                 // [N]
        }
        var total = zeros(1, dtype: ScalarType.Float32, device: hidden.device);
        for (long start = 0; start < targets.shape[0]; start += chunk)
        {
            long n = Math.Min(chunk, targets.shape[0] - start);
            var logits = decoder.LmHead(hidden.narrow(0, start, n)).to(ScalarType.Float32); // [n, V]
            total = total.Plus(nn.functional.cross_entropy(logits, targets.narrow(0, start, n), ignore_index: ignoreIndex, reduction: nn.Reduction.Sum));
        }
        return total.div(targets.NotEqual(ignoreIndex).sum().AtLeast(1)).squeeze();
    }

    /// <summary>
    /// Lower precision for inference the way autocast does it: the linear layers, the patch
    /// projection and the tied LM head (every large matmul, the attention, the KV cache) in
    /// <paramref name="dtype"/>; the embeddings, the norms and the residual stream stay float32, so
    /// rounding does not accumulate along the residual stream, and the logits come back as float32.
    /// (<c>to(dtype)</c> on the whole model instead converts everything.) The model must be float32 before.
    /// </summary>
    public Captioner ToMixedPrecision(ScalarType dtype)
    {
        foreach (var module in modules())
            if (module is Linear or Conv2d) module.to(dtype);
        decoder.UseHeadPrecision(dtype);
        return this;
    }

    /// <summary>The model in <paramref name="dtype"/> for inference: float32 stays as it is; a lower
    /// dtype converts only the linear layers when <paramref name="mixed"/>
    /// (<see cref="ToMixedPrecision"/>), else every weight. The model must be float32 before.</summary>
    public Captioner ToPrecision(ScalarType dtype, bool mixed)
    {
        if (dtype == ScalarType.Float32) return this;
        if (mixed) return ToMixedPrecision(dtype);
        this.to(dtype);
        return this;
    }

    /// <summary>"on (...)" when decoding steps run on the <see cref="Kernels.CpuKernels"/>, else "off: why".</summary>
    public string KernelStatus { get; private set; } = "off: not requested";

    /// <summary>Whether decoding steps run on the <see cref="Kernels.CpuKernels"/> (<see cref="UseCpuKernels"/>).</summary>
    public bool DecodingOnCpuKernels { get; private set; }

    /// <summary>Whether the encoder's blocks run on the <see cref="Kernels.CpuKernels"/> too (bf16 linear layers).</summary>
    public bool EncoderOnCpuKernels { get; private set; }

    /// <summary>
    /// Decoding steps from now on run on the <see cref="Kernels.CpuKernels"/> where they can: every
    /// linear layer of the decoder and the LM head are packed once (a copy beside the weights: about
    /// the decoder's linear layers again: about 550 MB in fp32 at full size), and each step's linear layers
    /// (their LayerNorms and GELU included), attention and the head's top-k run on the kernels. With bf16
    /// linear layers (mixed precision) the encoder's and the cross-attention's keys and values are packed too
    /// (about 200 MB at full size): the ViT's blocks run on the kernels (LayerNorm, linear layer, GELU and
    /// residual add fused; attention straight from the fused projection), and so do the keys and values of
    /// the image tokens. For inference only: call it after <see cref="ToPrecision"/>, and do not
    /// change the weights afterwards (training never calls it). Nothing changes, and
    /// <see cref="KernelStatus"/> says why, when the model is not on the CPU, its residual stream is not
    /// float32 (whole-model bf16), or the kernels are off here.
    /// </summary>
    public Captioner UseCpuKernels()
    {
        var dtypes = decoder.Blocks.SelectMany(b => b.parameters()).Where(p => p.dim() == 2).Select(p => p.dtype).Distinct().ToList();
        var unsupported = dtypes.Where(d => !Kernels.CpuKernels.Supports(d)).Select(TorchRuntime.Name).ToList();
        string? why = Device.type != DeviceType.CPU ? $"the model is on {Device}"
            : decoder.EmbeddingDType != ScalarType.Float32 ? $"the residual stream is {TorchRuntime.Name(decoder.EmbeddingDType)} (only float32 and mixed precision have kernels)"
            : unsupported.Count > 0 ? $"no {string.Join(", ", unsupported)} kernels ({Kernels.CpuKernels.Status})"
            : Config.DecoderWidth / Config.DecoderHeads % 16 != 0 ? $"the attention kernels take heads of a multiple of 16 dimensions (these have {Config.DecoderWidth / Config.DecoderHeads})"
            : null;
        if (why is not null)
        {
            KernelStatus = "off: " + why;
            return this;
        }
        decoder.PackForCpuKernels();
        DecodingOnCpuKernels = true;
        var encoderOff = encoder.PackForCpuKernels();
        EncoderOnCpuKernels = encoderOff is null;
        KernelStatus = $"on: decoding steps with {string.Join(" and ", dtypes.Select(TorchRuntime.Name))} linear layers; "
            + (encoderOff is null ? "the encoder's linear layers too" : $"the encoder on libtorch ({encoderOff})");
        return this;
    }

    /// <summary>The encoder states the decoder attends to (see <see cref="VisionEncoder.forward"/>).</summary>
    public Tensor[] Encode(Tensor pixels) => encoder.forward(pixels);

    /// <summary>The ViT, for encoding a few blocks at a time (<see cref="Generation.Admission"/>).</summary>
    public VisionEncoder Encoder => encoder;

    /// <summary>Teacher-forced logits from already-encoded images: [B, T, V].</summary>
    public Tensor Logits(Tensor tokens, IReadOnlyList<Tensor> encoderStates) => decoder.forward(tokens, encoderStates);

    /// <summary>A cache for decoding up to <paramref name="capacity"/> positions per sequence.</summary>
    public KvCache StartDecoding(IReadOnlyList<Tensor> encoderStates, int capacity) =>
        new(decoder, encoderStates, capacity, Config.DecoderHeads);

    /// <summary>One cached decoding step: tokens [B] -> next-token logits [B, V].</summary>
    public Tensor Step(Tensor tokens, KvCache cache) => decoder.Step(tokens, cache);

    /// <summary>True for the new layers joining the two stacks (cross-attention and its norm).</summary>
    public static bool IsCrossAttention(string parameterName) =>
        parameterName.Contains(".crossattention.") || parameterName.Contains(".ln_cross_attn.");

    public ParameterCounts CountParameters()
    {
        long enc = 0, dec = 0, cross = 0;
        foreach (var (name, p) in named_parameters())
        {
            if (name.StartsWith("encoder.")) enc += p.numel();
            else if (IsCrossAttention(name)) cross += p.numel();
            else dec += p.numel();
        }
        return new ParameterCounts(enc, dec, cross);
    }

    /// <summary>GPT-2's init for the decoder (normal 0.02, residual projections scaled by
    /// 1/sqrt(2L), positions 0.01), normal 0.02 for the new cross-attention and the ViT's linear
    /// layers and tokens, 2-D sine-cosine ViT positions (<see cref="SinCosPositions"/>; normal 0.02
    /// when the width is not a multiple of 4), zero biases, unit norms. Pretrained imports overwrite
    /// most of it.</summary>
    private void InitializeWeights()
    {
        using var noGrad = no_grad();
        double residualStd = 0.02 / Math.Sqrt(2 * Config.DecoderLayers);
        foreach (var (name, p) in named_parameters())
        {
            bool isNorm = p.dim() == 1 && (name.Contains("norm") || name.Contains("ln_"));
            if (isNorm) { _ = name.EndsWith(".weight") ? p.FillInPlace(1) : p.zero_(); continue; }
            if (name.EndsWith(".bias")) { p.zero_(); continue; }
            if (name.Contains("patch_embed.stem") && p.dim() == 4)
            {
                // He init (fan-in, ReLU gain): each convolution of the stem keeps its input's scale. With Conv2d's
                // default (variance 1/3 of He's) the picture reached the first block at about 1/50 of the position
                // table's scale, and shapes were learned slowly.
                nn.init.kaiming_normal_(p, mode: nn.init.FanInOut.FanIn, nonlinearity: nn.init.NonlinearityType.ReLU);
                continue;
            }
            if (name.Contains("patch_embed")) continue; // keep Conv2d's default (Kaiming-uniform) init
            if ((name.EndsWith("pos_embed") || name.EndsWith("position_embeddings")) && Config.EncoderWidth % 4 == 0)
            {
                using var positions = SinCosPositions.Make(Config.ImageSize / Config.PatchSize, Config.EncoderWidth);
                p.copy_(positions);
                continue;
            }
            double std = name.EndsWith(".wpe.weight") ? 0.01
                : !IsCrossAttention(name) && name.StartsWith("decoder.") && name.EndsWith("c_proj.weight") ? residualStd
                : 0.02;
            nn.init.normal_(p, 0, std); // in-place ops return p itself: never dispose their result
        }
    }
}
