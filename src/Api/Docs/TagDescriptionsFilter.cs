using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CaptionService.Api.Docs;

/// <summary>What each group of operations is for (the tags Swagger UI shows as sections).</summary>
public sealed class TagDescriptionsFilter : IDocumentFilter
{
    public static readonly IReadOnlyDictionary<string, string> Descriptions = new Dictionary<string, string>
    {
        ["Captions"] = "Caption images uploaded as multipart/form-data, with decoding options; answers say how each caption was made.",
        ["Hugging Face Inference API"] = "The image-to-text task as Hugging Face Inference API clients speak it (@huggingface/inference's imageToText, "
            + "huggingface_hub's image_to_text): give them this service's address as the endpoint. A full queue answers 429 with Retry-After here.",
        ["Model"] = "Which model is served, its config, and the limits this service applies.",
    };

    public void Apply(OpenApiDocument document, DocumentFilterContext context)
    {
        var used = document.Paths.Values.SelectMany(p => p.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>()).SelectMany(o => o.Tags ?? new HashSet<OpenApiTagReference>())
            .Select(t => t.Name).OfType<string>().Distinct();
        document.Tags = new HashSet<OpenApiTag>(used.Order().Select(name => new OpenApiTag
        {
            Name = name,
            Description = Descriptions.TryGetValue(name, out var description) ? description : null,
        }));
    }
}
