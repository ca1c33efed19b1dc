using CaptionService.Api.Endpoints;
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
            swagger.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "CaptionService",
                Version = "v1",
                Description = "Image captioning with a ViT encoder and a GPT-2 decoder. POST an image to /captions.",
            });
            var xml = Path.Combine(AppContext.BaseDirectory, typeof(ApiDocs).Assembly.GetName().Name + ".xml");
            if (File.Exists(xml)) swagger.IncludeXmlComments(xml);
            swagger.OperationFilter<CaptionFormOperationFilter>();
            swagger.SupportNonNullableReferenceTypes();
        });
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
