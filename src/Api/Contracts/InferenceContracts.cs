using System.Text.Json;

namespace CaptionService.Api.Contracts;

// The Hugging Face Inference API's image-to-text task, as its clients speak it (POST / and POST /models/{id}).

/// <summary>The JSON form of a request: the image base64-encoded, and optional generation parameters.</summary>
/// <param name="Inputs">The image's bytes, base64 (a <c>data:image/...;base64,</c> prefix is allowed).</param>
/// <param name="Parameters">As the task names them: max_new_tokens, do_sample, temperature, top_k, top_p, num_beams,
/// length_penalty, no_repeat_ngram_size, seed; also accepted nested under generation_parameters.</param>
public sealed record InferenceRequest(string Inputs, JsonElement? Parameters = null);

/// <summary>The task's answer: one object, as the clients expect it.</summary>
/// <param name="GeneratedText">The caption.</param>
public sealed record ImageToTextResponse(string GeneratedText);
