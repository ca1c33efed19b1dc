using System.Text.Json.Nodes;
using CaptionService.Api.Batching;
using CaptionService.Api.Hosting;
using CaptionService.Api.Intake;
using CaptionService.Model;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CaptionService.Api.Docs;

/// <summary>
/// Finishes the multipart schemas Swashbuckle derives from <see cref="CaptionForm"/> and
/// <see cref="BatchCaptionForm"/>: the file field is named <c>image</c> / <c>images</c> (Swashbuckle
/// refuses <c>[FromForm(Name)]</c> on files, so it would show the C# name) and required; the option
/// fields, bound as text so that bad values get a 400 naming them, are documented with the types they
/// are parsed as, their ranges, and the served checkpoint's defaults as default and example. Swagger UI's
/// "Try it out" fills every field with its example (a number without one gets 0), so as the UI leaves
/// them they make a request the service accepts.
/// </summary>
public sealed class CaptionFormOperationFilter(ModelHost host, CaptionScheduler scheduler) : IOperationFilter
{
    private static readonly Dictionary<string, (JsonSchemaType Type, string? Format)> Types = new()
    {
        [FormFields.MaxTokens] = (JsonSchemaType.Integer, "int32"),
        [FormFields.Temperature] = (JsonSchemaType.Number, "double"),
        [FormFields.TopK] = (JsonSchemaType.Integer, "int32"),
        [FormFields.TopP] = (JsonSchemaType.Number, "double"),
        [FormFields.Seed] = (JsonSchemaType.Integer, "int64"),
        [FormFields.NumBeams] = (JsonSchemaType.Integer, "int32"),
        [FormFields.LengthPenalty] = (JsonSchemaType.Number, "double"),
        [FormFields.NoRepeatNgramSize] = (JsonSchemaType.Integer, "int32"),
    };

    /// <summary>The seed shown in the form; without one a sampling request draws its own (and reports it).</summary>
    public const long ExampleSeed = 42;

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        var parameters = context.ApiDescription.ParameterDescriptions;
        string? field = parameters.Any(p => p.Type == typeof(IFormFile)) ? FormFields.Image
            : parameters.Any(p => p.Type == typeof(IFormFileCollection)) ? FormFields.Images
            : null;
        if (field is null) return;
        if (operation.RequestBody?.Content is not { } content || !content.TryGetValue("multipart/form-data", out var media)) return;
        if (media.Schema is not OpenApiSchema schema || schema.Properties is not { } properties) return;

        var fileName = properties.Keys.FirstOrDefault(k => string.Equals(k, field, StringComparison.OrdinalIgnoreCase));
        if (fileName is not null && fileName != field)
        {
            // The file first, under its wire name; the options after it in their declared order.
            var renamed = new Dictionary<string, IOpenApiSchema> { [field] = properties[fileName] };
            foreach (var (name, property) in properties)
                if (name != fileName) renamed[name] = property;
            schema.Properties = properties = renamed;
            if (media.Encoding is { } encoding && encoding.Remove(fileName, out var fileEncoding))
                encoding[field] = fileEncoding;
        }
        schema.Required ??= new HashSet<string>();
        schema.Required.Add(field);

        foreach (var (name, (type, format)) in Types)
        {
            if (properties.TryGetValue(name, out var property) && property is OpenApiSchema p)
                (p.Type, p.Format) = (type | JsonSchemaType.Null, format); // optional: generated clients may leave it out
        }
        if (properties.TryGetValue(FormFields.Decoding, out var decoding) && decoding is OpenApiSchema d)
        {
            d.Type = JsonSchemaType.String | JsonSchemaType.Null;
            d.Enum = [JsonValue.Create("greedy"), JsonValue.Create("sample"), JsonValue.Create("beam")];
        }

        foreach (var (name, option) in Options())
        {
            if (!properties.TryGetValue(name, out var property) || property is not OpenApiSchema p) continue;
            p.Example = option.Value;
            if (option.IsDefault) p.Default = option.Value;
            (p.Minimum, p.Maximum, p.ExclusiveMinimum) = (option.Minimum, option.Maximum, option.ExclusiveMinimum);
        }
    }

    /// <summary>Each option's value in the form (the served checkpoint's default, within this service's
    /// limits; the model's built-in defaults while it loads) and its range.</summary>
    private IEnumerable<(string Name, (JsonNode Value, bool IsDefault, string? Minimum, string? Maximum, string? ExclusiveMinimum) Option)> Options()
    {
        var o = host.Current?.Config.Decoding ?? new DecodingOptions();
        int maxTokens = scheduler.MaxTokens > 0 ? scheduler.MaxTokens : scheduler.Options.MaxTokens;
        int maxBeams = Math.Min(DecodingForm.MaxBeams, scheduler.Options.MaxBatchSize);
        static string N(double value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
        yield return (FormFields.Decoding, (JsonValue.Create(o.Strategy.ToString().ToLowerInvariant()), true, null, null, null));
        yield return (FormFields.MaxTokens, (JsonValue.Create(Math.Min(o.MaxNewTokens, maxTokens)), true, "1", N(maxTokens), null));
        yield return (FormFields.Temperature, (JsonValue.Create(o.Temperature), true, N(DecodingOptions.MinTemperature), N(DecodingOptions.MaxTemperature), null));
        yield return (FormFields.TopK, (JsonValue.Create(o.TopK), true, "0", null, null));
        yield return (FormFields.TopP, (JsonValue.Create(o.TopP), true, null, "1", "0"));
        yield return (FormFields.Seed, (JsonValue.Create(o.Seed ?? ExampleSeed), o.Seed is not null, null, null, null));
        yield return (FormFields.NumBeams, (JsonValue.Create(Math.Clamp(o.NumBeams, 1, maxBeams)), true, "1", N(maxBeams), null));
        yield return (FormFields.LengthPenalty, (JsonValue.Create(o.LengthPenalty), true, N(-DecodingOptions.MaxLengthPenalty), N(DecodingOptions.MaxLengthPenalty), null));
        yield return (FormFields.NoRepeatNgramSize, (JsonValue.Create(o.NoRepeatNgramSize), true, "0", null, null));
    }
}
