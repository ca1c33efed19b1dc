using System.Text.Json.Nodes;
using CaptionService.Api.Intake;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CaptionService.Api.Endpoints;

/// <summary>
/// Finishes the multipart schemas Swashbuckle derives from <see cref="CaptionForm"/> and
/// <see cref="BatchCaptionForm"/>: the file field is named <c>image</c> / <c>images</c> (Swashbuckle
/// refuses <c>[FromForm(Name)]</c> on files, so it would show the C# name) and required; the option fields, bound as text so that bad values get a
/// 400 naming them, are documented with the types they are parsed as.
/// </summary>
public sealed class CaptionFormOperationFilter : IOperationFilter
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
                (p.Type, p.Format) = (type, format);
        }
        if (properties.TryGetValue(FormFields.Decoding, out var decoding) && decoding is OpenApiSchema d)
            d.Enum = [JsonValue.Create("greedy"), JsonValue.Create("sample"), JsonValue.Create("beam")];
    }
}
