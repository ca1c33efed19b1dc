using CaptionService.Api.Endpoints;
using CaptionService.Api.Options;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CaptionService.Api.Docs;

/// <summary>Swagger (Swashbuckle): the document at /swagger/v1/swagger.json, the UI at /swagger.</summary>
public static class ApiDocs
{
    public static IServiceCollection AddApiDocs(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(swagger =>
        {
            var xml = Path.Combine(AppContext.BaseDirectory, typeof(ApiDocs).Assembly.GetName().Name + ".xml");
            if (File.Exists(xml)) swagger.IncludeXmlComments(xml);
            swagger.OperationFilter<CaptionFormOperationFilter>();
            swagger.OperationFilter<ResponseExamplesFilter>();
            swagger.OperationFilter<InferenceOperationFilter>();
            swagger.OperationFilter<ApiKeyOperationFilter>();
            swagger.DocumentFilter<TagDescriptionsFilter>();
            swagger.SupportNonNullableReferenceTypes();
            // The two ways to send a key; ApiKeyOperationFilter names them on the operations that take one.
            swagger.AddSecurityDefinition(ApiKeyOperationFilter.Scheme, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = AccessControl.KeyHeader,
                Description = "One of the service's API keys (Captioner:ApiKeys).",
            });
            swagger.AddSecurityDefinition(ApiKeyOperationFilter.BearerScheme, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The same key as a bearer token (Authorization: Bearer KEY), as Hugging Face clients and Prometheus send it.",
            });
        });
        // The description names the model this service is configured to serve, and whether it needs a key.
        services.AddOptions<SwaggerGenOptions>().Configure<IOptions<CaptionerOptions>>((swagger, captioner) =>
        {
            swagger.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "CaptionService",
                Version = "v1",
                Description = $"Image captioning with a ViT encoder and a GPT-2 decoder, serving {captioner.Value.Describe()}. "
                    + (captioner.Value.UsesBuiltInModel ? ModelNotice.Demo + " " : "")
                    + "POST an image to /captions; GET /model says which model answers. Hugging Face Inference API clients "
                    + "(image-to-text) can use this service's address as their endpoint. Errors are RFC 7807 problem details."
                    + (captioner.Value.ApiKeys.Length > 0
                        ? $" This service needs an API key: press Authorize and enter one ({AccessControl.KeyHeader}, or as a bearer token)."
                        : " This service takes no API key (none is configured)."),
                // The project has not chosen a licence: default copyright applies, and the link says what that means.
                License = new OpenApiLicense { Name = "No licence granted (all rights reserved)", Url = new Uri("https://choosealicense.com/no-permission/") },
            });
        });
        // Describe the bodies as the endpoints write them (snake_case, see Program's JSON options):
        // Swashbuckle would otherwise follow MVC's JSON options, which this service does not use.
        services.AddTransient<ISerializerDataContractResolver>(sp => new JsonSerializerDataContractResolver(
            sp.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions));
        return services;
    }

    public static WebApplication UseApiDocs(this WebApplication app)
    {
        // The server is this service, at the address the client reached it by (behind a trusted proxy, the forwarded one).
        app.UseSwagger(swagger => swagger.PreSerializeFilters.Add((document, request) =>
            document.Servers = [new OpenApiServer { Url = $"{request.Scheme}://{request.Host}{request.PathBase}", Description = "This service" }]));
        app.UseSwaggerUI(ui => ui.DocumentTitle = "CaptionService");
        return app;
    }
}
