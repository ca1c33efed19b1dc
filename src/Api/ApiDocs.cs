using CaptionService.Api.Endpoints;
using CaptionService.Api.Options;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace CaptionService.Api;

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
            swagger.SupportNonNullableReferenceTypes();
        });
        // The description names the model this service is configured to serve.
        services.AddOptions<SwaggerGenOptions>().Configure<IOptions<CaptionerOptions>>((swagger, captioner) =>
            swagger.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "CaptionService",
                Version = "v1",
                Description = $"Image captioning with a ViT encoder and a GPT-2 decoder, serving {captioner.Value.Describe()}. "
                    + (captioner.Value.UsesBuiltInModel ? ModelNotice.Demo + " " : "")
                    + "POST an image to /captions; GET /model says which model answers.",
            }));
        // Describe the bodies as the endpoints write them (snake_case, see Program's JSON options):
        // Swashbuckle would otherwise follow MVC's JSON options, which this service does not use.
        services.AddTransient<ISerializerDataContractResolver>(sp => new JsonSerializerDataContractResolver(
            sp.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions));
        return services;
    }

    public static WebApplication UseApiDocs(this WebApplication app)
    {
        app.UseSwagger();
        app.UseSwaggerUI(ui => ui.DocumentTitle = "CaptionService");
        return app;
    }
}
