using CaptionService.Api.Endpoints;
using CaptionService.Api.Options;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CaptionService.Api.Docs;

/// <summary>Every operation says how it is authorized: one that takes an API key (<see cref="RequiresApiKey"/>)
/// names both schemes (<c>X-Api-Key</c>, or the key as a bearer token), so that Swagger UI's Authorize button sends
/// the key with "Try it out"; with no keys configured it may also be called without one (an empty requirement).
/// The others take none (an empty requirement only).</summary>
public sealed class ApiKeyOperationFilter(IOptions<CaptionerOptions> options) : IOperationFilter
{
    public const string Scheme = "ApiKey";
    public const string BearerScheme = "Bearer";

    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        operation.Security = [];
        if (context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<RequiresApiKey>().Any())
        {
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Scheme, context.Document)] = [] });
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] });
            if (options.Value.ApiKeys.Length > 0) return;
        }
        operation.Security.Add(new OpenApiSecurityRequirement());
    }
}
