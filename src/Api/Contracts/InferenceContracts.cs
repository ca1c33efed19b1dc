namespace CaptionService.Api.Contracts;

// The Hugging Face Inference API's image-to-text task, as its clients speak it (POST / and POST /models/{id}).
// The request types describe the JSON form for the API's documentation; InferenceEndpoints reads it member by
// member, so that a wrong one gets a 400 that names it.

/// <summary>The JSON form of a request: the image base64-encoded, and optional generation parameters.</summary>
/// <param name="Inputs">The image's bytes, base64 (a <c>data:image/...;base64,</c> prefix is allowed).</param>
/// <param name="Parameters">Optional; each parameter left out takes the checkpoint's default.</param>
public sealed record InferenceRequest(string Inputs, ImageToTextParameters? Parameters = null);

/// <summary>The task's parameters, as it names them. do_sample true samples; num_beams over 1 searches beams;
/// options the chosen decoding does not use are ignored.</summary>
/// <param name="MaxNewTokens">Most tokens to generate (POST /captions: max_tokens).</param>
/// <param name="DoSample">Sample instead of decoding greedily (or with beams).</param>
/// <param name="Temperature">Sampling temperature, from 0.01 to 100.</param>
/// <param name="TopK">Sample from the k most likely tokens only; 0 keeps all.</param>
/// <param name="TopP">Nucleus sampling, in (0, 1].</param>
/// <param name="NumBeams">Beams kept by beam search (over 1 searches beams).</param>
/// <param name="LengthPenalty">Beam score = sum of log-probabilities / length^length_penalty.</param>
/// <param name="NoRepeatNgramSize">Never repeat an n-gram of this size; 0 turns it off.</param>
/// <param name="Seed">Random seed for sampling.</param>
/// <param name="GenerationParameters">The same parameters, nested, as newer clients send them.</param>
public sealed record ImageToTextParameters(
    int? MaxNewTokens = null,
    bool? DoSample = null,
    double? Temperature = null,
    int? TopK = null,
    double? TopP = null,
    int? NumBeams = null,
    double? LengthPenalty = null,
    int? NoRepeatNgramSize = null,
    long? Seed = null,
    ImageToTextParameters? GenerationParameters = null);

/// <summary>The task's answer: one object, as the clients expect it.</summary>
/// <param name="GeneratedText">The caption.</param>
public sealed record ImageToTextResponse(string GeneratedText);
