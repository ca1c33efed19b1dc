using System.Text.Json.Nodes;
using CaptionService.Api.Contracts;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CaptionService.Api.Docs;

/// <summary>The request bodies of the Hugging Face Inference routes, which the endpoints read themselves:
/// the image's bytes (an image type, or application/octet-stream), or the JSON form (<see cref="InferenceRequest"/>).</summary>
public sealed class InferenceOperationFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (operation.OperationId is not ("ImageToText" or "ImageToTextForModel")) return;
        var json = context.SchemaGenerator.GenerateSchema(typeof(InferenceRequest), context.SchemaRepository);
        OpenApiMediaType Bytes() => new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } };
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Description = "The image (JPEG, PNG, WebP, BMP or GIF) as the body, or JSON with the image base64-encoded.",
            // JSON first: a client generator takes the first (NSwag: ImageToTextAsync(InferenceRequest)).
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/json"] = new()
                {
                    Schema = json,
                    Example = new JsonObject
                    {
                        ["inputs"] = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC",
                        ["parameters"] = new JsonObject { ["max_new_tokens"] = 20 },
                    },
                },
                ["image/*"] = Bytes(),
                ["application/octet-stream"] = Bytes(),
            },
        };
        if (operation.Parameters?.FirstOrDefault(p => p.Name == "id") is OpenApiParameter id)
            id.Description = "The id of the model served (GET /model: id): OWNER/NAME for a Hugging Face Hub model, else the checkpoint's name; another id is a 404.";
    }
}
