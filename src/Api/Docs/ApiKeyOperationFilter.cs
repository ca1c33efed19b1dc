using CaptionService.Api.Endpoints;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CaptionService.Api.Docs;

/// <summary>With API keys configured: the operations that need one (<see cref="RequiresApiKey"/>) name the
/// <c>X-Api-Key</c> scheme, so that Swagger UI's Authorize button sends the key with "Try it out".</summary>
public sealed class ApiKeyOperationFilter : IOperationFilter
{
    public const string Scheme = "ApiKey";

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        if (context.Document.Components?.SecuritySchemes?.ContainsKey(Scheme) != true) return; // no keys configured
        if (!context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<RequiresApiKey>().Any()) return;
        operation.Security ??= [];
        operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Scheme, context.Document)] = [] });
    }
}
