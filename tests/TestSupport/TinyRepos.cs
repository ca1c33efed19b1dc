using System.Collections;
using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using CaptionService.Model.Text;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace CaptionService.TestSupport;

/// <summary>
/// Tiny look-alikes of the Hub's repositories, files as the real ones lay them out: an HF VisionEncoderDecoder
/// ViT-GPT2 captioner (nlpconnect's files at width 32 with GPT-2's full vocabulary and its vocab.json), a timm ViT
/// and HF GPT-2. Each comes with the <see cref="Captioner"/> whose weights it holds, so tests can compare captions.
/// </summary>
public static partial class TinyRepos
{
    public const int EndOfText = 50256;

    /// <summary>The HF layout at width 32: one ViT block on 32 px images in 16 px patches, one GPT-2 block.</summary>
    public static ModelConfig VitGpt2Config { get; } = Presets.HfVitGpt2 with
    {
        ImageSize = 32,
        PatchSize = 16,
        EncoderLayers = 1,
        EncoderWidth = 32,
        EncoderHeads = 2,
        EncoderMlpWidth = 64,
        EncoderLayerNormEps = 1e-12,
        DecoderLayers = 1,
        DecoderWidth = 32,
        DecoderHeads = 2,
        DecoderMlpWidth = 128,
        MaxPositions = 32,
    };

    /// <summary>nlpconnect/vit-gpt2-image-captioning's files: config.json, preprocessor_config.json, generation_config.json
    /// (when given), vocab.json, merges.txt stand-in, tokenizer_config.json, and the weights (safetensors or a PyTorch zip).</summary>
    /// <param name="model">a <see cref="VitGpt2Config"/> model whose weights to store (random, from <paramref name="seed"/>, when null)</param>
    public static List<HubFile> VitGpt2(int seed = 1, string weights = "model.safetensors", JsonObject? generation = null,
        Action<JsonObject>? editConfig = null, Captioner? model = null)
    {
        using var scope = NewDisposeScope();
        Captioner? made = null;
        model ??= made = VitGpt2Model(seed);
        try
        {
            var config = VitGpt2Json(model.Config);
            editConfig?.Invoke(config);
            var files = SmallVitGpt2Files(model.Config, config);
            files.Add(Weights(weights, HfTensors(model)));
            if (generation is not null) files.Add(Json("generation_config.json", generation));
            return files;
        }
        finally
        {
            made?.Dispose();
        }
    }

    /// <summary>A model's state dict under the HF VisionEncoderDecoder's names and layouts (GPT-2's Conv1D weights [in, out],
    /// the tied <c>lm_head</c> saved too, as transformers does). The tensors share or copy the model's; dispose them with a scope.</summary>
    public static Dictionary<string, Tensor> HfTensors(Captioner model)
    {
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (name, t) in ImportPlan.TensorsOf(model))
            tensors[name] = Conv1D().IsMatch(name) ? t.detach().t().contiguous() : t.detach().contiguous();
        tensors["decoder.lm_head.weight"] = tensors["decoder.transformer.wte.weight"];
        return tensors;
    }

    /// <summary>Everything of an nlpconnect-like repository but the weights.</summary>
    public static List<HubFile> SmallVitGpt2Files(ModelConfig model, JsonObject config) =>
    [
        Json("config.json", config),
        Json("preprocessor_config.json", new JsonObject
        {
            ["do_normalize"] = true, ["do_resize"] = true, ["feature_extractor_type"] = "ViTFeatureExtractor",
            ["image_mean"] = new JsonArray(0.5, 0.5, 0.5), ["image_std"] = new JsonArray(0.5, 0.5, 0.5), ["resample"] = 2,
            ["size"] = model.ImageSize,
        }),
        HubFile.FromBytes("vocab.json", JsonSerializer.SerializeToUtf8Bytes(Gpt2Vocabulary.Tokens)),
        HubFile.FromText("merges.txt", "#version: 0.2\nĠ t\n"),
        Json("tokenizer_config.json", new JsonObject { ["tokenizer_class"] = "GPT2Tokenizer", ["model_max_length"] = 1024 }),
        HubFile.FromText("README.md", "---\ntags: [image-to-text]\n---\n# vit-gpt2 look-alike\n"),
    ];

    /// <summary>The captioner a <see cref="VitGpt2"/> repository with this seed holds.</summary>
    /// <remarks>Its values come from a generator of its own, not torch's global one, which tests running at the same time share.</remarks>
    public static Captioner VitGpt2Model(int seed = 1)
    {
        var model = new Captioner(VitGpt2Config, initialize: false);
        var g = new Generator((ulong)seed);
        using (no_grad())
        using (NewDisposeScope())
            foreach (var (name, p) in ImportPlan.TensorsOf(model).OrderBy(e => e.Key, StringComparer.Ordinal))
            {
                bool norm = p.dim() == 1 && name.EndsWith(".weight", StringComparison.Ordinal) && (name.Contains("norm") || name.Contains("ln_"));
                p.copy_(norm ? 1 + 0.05 * randn(p.shape, generator: g) : 0.05 * randn(p.shape, generator: g));
            }
        model.eval();
        return model;
    }

    /// <summary>timm/vit_base_patch16_224's layout at width 48 (one block, 32 px, patch 16, 10 classes): model.safetensors + config.json.</summary>
    public static List<HubFile> TimmVit(int seed = 2)
    {
        using var scope = NewDisposeScope();
        var g = new Generator((ulong)seed);
        Tensor R(params long[] shape) => 0.1 * randn(shape, generator: g);
        var tensors = new Dictionary<string, Tensor>
        {
            ["cls_token"] = R(1, 1, 48),
            ["pos_embed"] = R(1, 5, 48),
            ["patch_embed.proj.weight"] = R(48, 3, 16, 16),
            ["patch_embed.proj.bias"] = R(48),
            ["blocks.0.norm1.weight"] = 1 + R(48),
            ["blocks.0.norm1.bias"] = R(48),
            ["blocks.0.attn.qkv.weight"] = R(144, 48),
            ["blocks.0.attn.qkv.bias"] = R(144),
            ["blocks.0.attn.proj.weight"] = R(48, 48),
            ["blocks.0.attn.proj.bias"] = R(48),
            ["blocks.0.norm2.weight"] = 1 + R(48),
            ["blocks.0.norm2.bias"] = R(48),
            ["blocks.0.mlp.fc1.weight"] = R(96, 48),
            ["blocks.0.mlp.fc1.bias"] = R(96),
            ["blocks.0.mlp.fc2.weight"] = R(48, 96),
            ["blocks.0.mlp.fc2.bias"] = R(48),
            ["norm.weight"] = 1 + R(48),
            ["norm.bias"] = R(48),
            ["head.weight"] = R(10, 48),
            ["head.bias"] = R(10),
        };
        return
        [
            Json("config.json", new JsonObject
            {
                ["architecture"] = "vit_base_patch16_224", ["num_classes"] = 10, ["num_features"] = 48,
                ["pretrained_cfg"] = new JsonObject
                {
                    ["input_size"] = new JsonArray(3, 32, 32), ["mean"] = new JsonArray(0.5, 0.5, 0.5), ["std"] = new JsonArray(0.5, 0.5, 0.5),
                    ["interpolation"] = "bicubic", ["crop_pct"] = 1.0, ["num_classes"] = 10,
                },
            }),
            Weights("model.safetensors", tensors),
        ];
    }

    /// <summary>openai-community/gpt2's layout at width 48 (one block, GPT-2's vocabulary, 32 positions): config.json,
    /// vocab.json and model.safetensors (Conv1D weights [in, out]).</summary>
    public static List<HubFile> Gpt2(int seed = 3, Action<JsonObject>? editConfig = null)
    {
        using var scope = NewDisposeScope();
        var g = new Generator((ulong)seed);
        Tensor R(params long[] shape) => 0.02 * randn(shape, generator: g);
        var tensors = new Dictionary<string, Tensor>
        {
            ["wte.weight"] = R(Gpt2Vocabulary.Size, 48),
            ["wpe.weight"] = R(32, 48),
            ["h.0.ln_1.weight"] = 1 + R(48),
            ["h.0.ln_1.bias"] = R(48),
            ["h.0.attn.c_attn.weight"] = R(48, 144),
            ["h.0.attn.c_attn.bias"] = R(144),
            ["h.0.attn.c_proj.weight"] = R(48, 48),
            ["h.0.attn.c_proj.bias"] = R(48),
            ["h.0.ln_2.weight"] = 1 + R(48),
            ["h.0.ln_2.bias"] = R(48),
            ["h.0.mlp.c_fc.weight"] = R(48, 192),
            ["h.0.mlp.c_fc.bias"] = R(192),
            ["h.0.mlp.c_proj.weight"] = R(192, 48),
            ["h.0.mlp.c_proj.bias"] = R(48),
            ["ln_f.weight"] = 1 + R(48),
            ["ln_f.bias"] = R(48),
        };
        var config = Gpt2Json(vocab: Gpt2Vocabulary.Size, positions: 32, width: 48, layers: 1, heads: 4);
        editConfig?.Invoke(config);
        return
        [
            Json("config.json", config),
            HubFile.FromBytes("vocab.json", JsonSerializer.SerializeToUtf8Bytes(Gpt2Vocabulary.Tokens)),
            Weights("model.safetensors", tensors),
        ];
    }

    /// <summary>A repository that is not a captioner: BLIP's config.</summary>
    public static List<HubFile> Blip() =>
    [
        Json("config.json", new JsonObject { ["model_type"] = "blip", ["architectures"] = new JsonArray("BlipForConditionalGeneration") }),
        HubFile.FromBytes("model.safetensors", new byte[1024]),
    ];

    /// <summary>HF gpt2's config.json.</summary>
    public static JsonObject Gpt2Json(int vocab, int positions, int width, int layers, int heads) => new()
    {
        ["activation_function"] = "gelu_new",
        ["architectures"] = new JsonArray("GPT2LMHeadModel"),
        ["attn_pdrop"] = 0.1,
        ["bos_token_id"] = EndOfText,
        ["embd_pdrop"] = 0.1,
        ["eos_token_id"] = EndOfText,
        ["layer_norm_epsilon"] = 1e-5,
        ["model_type"] = "gpt2",
        ["n_ctx"] = positions,
        ["n_embd"] = width,
        ["n_head"] = heads,
        ["n_inner"] = null,
        ["n_layer"] = layers,
        ["n_positions"] = positions,
        ["resid_pdrop"] = 0.1,
        ["vocab_size"] = vocab,
    };

    /// <summary>A VisionEncoderDecoder config.json (as nlpconnect's) for an HF-layout <see cref="ModelConfig"/>.</summary>
    public static JsonObject VitGpt2Json(ModelConfig c)
    {
        var decoder = Gpt2Json(c.VocabSize, c.MaxPositions, c.DecoderWidth, c.DecoderLayers, c.DecoderHeads);
        decoder["add_cross_attention"] = true;
        decoder["decoder_start_token_id"] = EndOfText;
        decoder["is_decoder"] = true;
        decoder["pad_token_id"] = EndOfText;
        decoder["n_inner"] = c.DecoderMlpWidth == 4 * c.DecoderWidth ? null : c.DecoderMlpWidth;
        return new JsonObject
        {
            ["architectures"] = new JsonArray("VisionEncoderDecoderModel"),
            ["decoder"] = decoder,
            ["decoder_start_token_id"] = EndOfText,
            ["encoder"] = new JsonObject
            {
                ["architectures"] = new JsonArray("ViTModel"),
                ["hidden_act"] = "gelu",
                ["hidden_size"] = c.EncoderWidth,
                ["image_size"] = c.ImageSize,
                ["intermediate_size"] = c.EncoderMlpWidth,
                ["layer_norm_eps"] = 1e-12,
                ["model_type"] = "vit",
                ["num_attention_heads"] = c.EncoderHeads,
                ["num_channels"] = 3,
                ["num_hidden_layers"] = c.EncoderLayers,
                ["patch_size"] = c.PatchSize,
                ["qkv_bias"] = true,
            },
            ["eos_token_id"] = EndOfText,
            ["is_encoder_decoder"] = true,
            ["model_type"] = "vision-encoder-decoder",
            ["pad_token_id"] = EndOfText,
            ["tie_word_embeddings"] = false,
        };
    }

    /// <summary>Writes the tensors as safetensors (<c>*.safetensors</c>) or a PyTorch zip (<c>*.bin</c>) to a file and serves it.</summary>
    public static HubFile Weights(string name, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("tiny-repo-").FullName, name);
        WriteWeights(path, tensors);
        var file = HubFile.FromBytes(name, File.ReadAllBytes(path));
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        return file;
    }

    /// <summary>safetensors for <c>*.safetensors</c>; else a PyTorch zip with its entries stored uncompressed, as torch.save writes them.</summary>
    public static void WriteWeights(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var stored = tensors.ToDictionary(e => e.Key, e => e.Value);
        if (path.EndsWith(".safetensors", StringComparison.Ordinal))
        {
            using var stream = File.Create(path);
            Safetensors.SaveStateDict(stream, stored);
            return;
        }
        var deflated = path + ".deflated";
        PyTorchPickler.PickleStateDict(deflated, new Hashtable(stored)); // PyBridge compresses its entries; torch.save does not
        using (var source = ZipFile.OpenRead(deflated))
        using (var target = ZipFile.Open(path, ZipArchiveMode.Create))
            foreach (var entry in source.Entries)
            {
                using var read = entry.Open();
                using var write = target.CreateEntry(entry.FullName, CompressionLevel.NoCompression).Open();
                read.CopyTo(write);
            }
        File.Delete(deflated);
    }

    private static HubFile Json(string name, JsonNode node) => HubFile.FromText(name, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    // GPT-2's Conv1D weights, which our Linear layers hold transposed.
    [GeneratedRegex(@"^decoder\.transformer\.h\.\d+\.(attn\.(c_attn|c_proj)|crossattention\.(q_attn|c_attn|c_proj)|mlp\.(c_fc|c_proj))\.weight$")]
    private static partial Regex Conv1D();
}
