using System.Collections;
using System.Text.Json.Nodes;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace CaptionService.Model.Tests.Checkpoints;

/// <summary>A temporary directory, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("checkpoint-tests-").FullName;

    public string this[string relative]
    {
        get
        {
            var full = System.IO.Path.Combine(Path, relative);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
            return full;
        }
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}

/// <summary>Writes look-alikes of pretrained files: the real names and layouts, tiny sizes, random values.</summary>
internal static class TestFiles
{
    /// <summary>Random fp32 values for every key (norm weights near 1; mask buffers as GPT-2 stores them).</summary>
    public static Dictionary<string, Tensor> Random(IReadOnlyDictionary<string, long[]> shapes, int seed)
    {
        var g = new torch.Generator((ulong)seed);
        var result = new Dictionary<string, Tensor>();
        foreach (var (name, shape) in shapes.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            bool isNorm = name.EndsWith(".weight") && shape.Length == 1 && (name.Contains("norm") || name.Contains("ln_"));
            result[name] =
                name.EndsWith("masked_bias") ? tensor(-1e4f)
                : (name.EndsWith(".attn.bias") || name.EndsWith(".crossattention.bias")) && shape.Length == 4
                    ? ones(shape[2], shape[3], dtype: ScalarType.Bool).tril().view(shape)
                : isNorm ? 1 + 0.1 * randn(shape, generator: g)
                : 0.1 * randn(shape, generator: g);
        }
        return result;
    }

    /// <summary>safetensors for <c>*.safetensors</c>, else a PyTorch zip pickle (<c>pytorch_model.bin</c>).
    /// Float tensors are stored in <paramref name="dtype"/> when given.</summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, ScalarType? dtype = null)
    {
        using var scope = NewDisposeScope();
        var stored = tensors.ToDictionary(e => e.Key,
            e => (dtype is ScalarType t && e.Value.is_floating_point() ? e.Value.to(t) : e.Value).contiguous());
        if (path.EndsWith(".safetensors"))
        {
            using var stream = File.Create(path);
            Safetensors.SaveStateDict(stream, stored);
        }
        else
        {
            PyTorchPickler.PickleStateDict(path, new Hashtable(stored));
        }
    }

    public static void Json(string path, JsonNode node) => File.WriteAllText(path, node.ToJsonString());

    /// <summary>HF gpt2's config.json at the given sizes.</summary>
    public static JsonObject Gpt2Config(int vocab, int positions, int width, int layers, int heads, int endToken) => new()
    {
        ["activation_function"] = "gelu_new",
        ["architectures"] = new JsonArray("GPT2LMHeadModel"),
        ["attn_pdrop"] = 0.1,
        ["bos_token_id"] = endToken,
        ["embd_pdrop"] = 0.1,
        ["eos_token_id"] = endToken,
        ["initializer_range"] = 0.02,
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

    /// <summary>nlpconnect/vit-gpt2-image-captioning's config.json at the given sizes.</summary>
    public static JsonObject VisionEncoderDecoderConfig(int width, int layers, int heads, int mlp, int image, int patch,
        int vocab, int positions, int endToken)
    {
        var decoder = Gpt2Config(vocab, positions, width, layers, heads, endToken);
        decoder["add_cross_attention"] = true;
        decoder["decoder_start_token_id"] = endToken;
        decoder["is_decoder"] = true;
        decoder["pad_token_id"] = endToken;
        decoder["scale_attn_weights"] = true;
        decoder["scale_attn_by_inverse_layer_idx"] = false;
        decoder["reorder_and_upcast_attn"] = false;
        return new JsonObject
        {
            ["architectures"] = new JsonArray("VisionEncoderDecoderModel"),
            ["decoder"] = decoder,
            ["decoder_start_token_id"] = endToken,
            ["encoder"] = new JsonObject
            {
                ["architectures"] = new JsonArray("ViTModel"),
                ["attention_probs_dropout_prob"] = 0.0,
                ["hidden_act"] = "gelu",
                ["hidden_dropout_prob"] = 0.0,
                ["hidden_size"] = width,
                ["image_size"] = image,
                ["intermediate_size"] = mlp,
                ["layer_norm_eps"] = 1e-12,
                ["model_type"] = "vit",
                ["num_attention_heads"] = heads,
                ["num_channels"] = 3,
                ["num_hidden_layers"] = layers,
                ["patch_size"] = patch,
                ["qkv_bias"] = true,
            },
            ["eos_token_id"] = endToken,
            ["is_encoder_decoder"] = true,
            ["model_type"] = "vision-encoder-decoder",
            ["pad_token_id"] = endToken,
            ["tie_word_embeddings"] = false,
        };
    }

    /// <summary>nlpconnect's preprocessor_config.json; <paramref name="size"/> is an int or {height, width}.</summary>
    public static JsonObject Preprocessor(JsonNode size, float mean = 0.5f, float std = 0.5f) => new()
    {
        ["do_normalize"] = true,
        ["do_resize"] = true,
        ["feature_extractor_type"] = "ViTFeatureExtractor",
        ["image_mean"] = new JsonArray(mean, mean, mean),
        ["image_std"] = new JsonArray(std, std, std),
        ["resample"] = 2,
        ["size"] = size,
    };
}
