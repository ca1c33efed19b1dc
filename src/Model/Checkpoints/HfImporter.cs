using CaptionService.Model.Text;

namespace CaptionService.Model.Checkpoints;

/// <summary>
/// A Hugging Face VisionEncoderDecoder ViT-GPT2 captioner directory (like
/// <c>nlpconnect/vit-gpt2-image-captioning</c>): <c>config.json</c>, <c>preprocessor_config.json</c> and
/// <c>model.safetensors</c> or <c>pytorch_model.bin</c> in fp32, fp16 or bf16.
/// </summary>
/// <remarks>
/// Our names are HF's: <c>encoder.*</c> identical, <c>decoder.*</c> identical except that GPT-2's Conv1D
/// weights are transposed. <c>decoder.lm_head.weight</c> may be absent; when present it must equal
/// <c>wte</c>, since our head is tied to it. <c>encoder.pooler.*</c> is ignored. Nothing may stay new.
/// The repository's generation settings become the decoding defaults (<see cref="HfGeneration"/>), and
/// tokenizer files other than GPT-2's vocabulary are refused (<see cref="Gpt2Vocabulary.Check"/>).
/// </remarks>
public static class HfImporter
{
    public const string PreprocessorFileName = "preprocessor_config.json";
    public const string GenerationFileName = HfGeneration.FileName;

    public static ImportResult Import(string dir)
    {
        var notes = new List<string>();
        var config = ReadConfig(dir, notes);
        var weights = WeightSource.Find(dir);
        var reader = WeightReader.Open(weights); // tensor by tensor: the file is never held whole beside the model
        return WeightCopier.BuildAndCopy([reader], () => config, (_, shapes) => Plan(reader.Shapes, shapes, weights), notes,
            initialize: false); // every parameter comes from the file (the plan refuses anything missing)
    }

    /// <summary>
    /// The model of an HF directory, converted at load; with <paramref name="convertedWeights"/>, converted once: read
    /// from that file (our layout: no transposes or tie check to redo) when it is there and fits the config read now,
    /// else imported and written there for next time (atomically; a cache that cannot be written is only not used).
    /// </summary>
    public static Captioner Load(string dir, string? convertedWeights)
    {
        if (convertedWeights is not null && File.Exists(convertedWeights))
        {
            try
            {
                return Checkpoint.LoadWeights(ReadConfig(dir), convertedWeights);
            }
            catch (Exception e) when (e is CheckpointMismatchException or InvalidDataException)
            {
                File.Delete(convertedWeights); // from another version of the config, or damaged: converted again below
            }
        }
        var model = Import(dir).Model;
        if (convertedWeights is not null)
        {
            try { Checkpoint.SaveWeights(model, convertedWeights); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // read-only: convert at every load
        }
        return model;
    }

    /// <summary>The name/shape mapping, without tensors.</summary>
    public static ImportPlan Plan(IReadOnlyDictionary<string, long[]> source, IReadOnlyDictionary<string, long[]> model, string path = "checkpoint") =>
        ImportPlan.Build([new WeightFile("", path, source, Map)], model);

    public static WeightMapping Map(string name)
    {
        if (name.StartsWith("encoder.pooler.")) return WeightMapping.Ignore("ViT pooler: unused by the captioner");
        if (name.StartsWith("decoder.")) return Gpt2.Map(name["decoder.".Length..]);
        return WeightMapping.Copy(name); // encoder.* as is; anything else (enc_to_dec_proj, ...) is unexpected
    }

    /// <summary>The model config from <c>config.json</c> and <c>preprocessor_config.json</c>.</summary>
    public static ModelConfig ReadConfig(string dir) => ReadConfig(dir, []);

    private static ModelConfig ReadConfig(string dir, List<string> notes)
    {
        if (CheckpointFormats.Detect(dir) != CheckpointFormat.HfVisionEncoderDecoder) // refuses other kinds of models in one line
            throw new InvalidDataException($"{Path.Combine(dir, "config.json")}: a CaptionService checkpoint already, not a Hugging Face one: load it as it is");
        var json = JsonFile.Read(Path.Combine(dir, "config.json"));
        var enc = json.Child("encoder") ?? throw json.Error("encoder", "is missing: not a VisionEncoderDecoder config");
        var dec = json.Child("decoder") ?? throw json.Error("decoder", "is missing: not a VisionEncoderDecoder config");
        if (enc.String("model_type") is { } encType && encType != "vit") throw enc.Error("model_type", $"is '{encType}', not 'vit'");
        if (dec.String("model_type") is { } decType && decType != "gpt2") throw dec.Error("model_type", $"is '{decType}', not 'gpt2'");
        if (dec.Bool("add_cross_attention") != true) throw dec.Error("add_cross_attention", "must be true");
        if ((enc.String("hidden_act") ?? "gelu") != "gelu") throw enc.Error("hidden_act", "must be 'gelu' (exact GELU)");
        if (enc.Bool("qkv_bias") == false) throw enc.Error("qkv_bias", "is false, which this encoder does not implement");

        var config = Presets.HfVitGpt2 with
        {
            EncoderLayout = EncoderLayout.HfVit,
            CrossAttention = CrossAttentionMode.Final,
            EncoderWidth = enc.Int("hidden_size") ?? 768,
            EncoderLayers = enc.Int("num_hidden_layers") ?? 12,
            EncoderHeads = enc.Int("num_attention_heads") ?? 12,
            EncoderMlpWidth = enc.Int("intermediate_size") ?? 3072,
            ImageSize = enc.Int("image_size") ?? 224,
            PatchSize = enc.Int("patch_size") ?? 16,
            NumChannels = enc.Int("num_channels") ?? 3,
            EncoderLayerNormEps = enc.Double("layer_norm_eps") ?? 1e-12,
        };
        config = Gpt2.ApplyConfig(config, dec);
        if (config.EncoderWidth != config.DecoderWidth)
            throw enc.Error("hidden_size", $"({config.EncoderWidth}) differs from decoder.n_embd ({config.DecoderWidth}): " +
                "such checkpoints carry an enc_to_dec_proj layer, which this model does not have");

        int? Id(string key) => json.Int(key) ?? dec.Int(key);
        int? eos = Id("eos_token_id");
        config = config with
        {
            BosTokenId = Id("decoder_start_token_id") ?? Id("bos_token_id") ?? config.BosTokenId, // the token generation starts from
            EosTokenId = eos ?? config.EosTokenId,
            PadTokenId = Id("pad_token_id") ?? eos ?? config.PadTokenId,
        };
        config = ApplyPreprocessor(config, dir, notes);
        config = config with { Decoding = HfGeneration.Read(dir, json, notes) };
        Gpt2Vocabulary.Check(dir, config.VocabSize, json.Path, notes);

        var errors = config.Validate().ToList();
        if (errors.Count > 0) throw new InvalidDataException($"{json.Path}: the model config it describes is invalid: {string.Join("; ", errors)}");
        return config;
    }

    /// <summary>The image processor's steps, mean and std (<see cref="HfImageProcessor"/>); they must end at the encoder's image size.</summary>
    private static ModelConfig ApplyPreprocessor(ModelConfig config, string dir, List<string> notes) =>
        HfImageProcessor.Apply(config, Path.Combine(dir, PreprocessorFileName), notes);
}
