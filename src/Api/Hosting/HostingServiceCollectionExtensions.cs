using CaptionService.Api.Batching;
using CaptionService.Api.Endpoints;
using CaptionService.Api.Options;

namespace CaptionService.Api.Hosting;

public static class HostingServiceCollectionExtensions
{
    /// <summary>Validated <see cref="CaptionerOptions"/>, the <see cref="ModelHost"/>, the scheduler that owns it, its background loader and readiness check.</summary>
    public static IServiceCollection AddModelHosting(this IServiceCollection services)
    {
        services.AddOptions<CaptionerOptions>().BindConfiguration(CaptionerOptions.Section).ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<CaptionerOptions>, CaptionerOptionsValidator>();
        services.AddSingleton<ModelHost>();
        services.AddSingleton<CaptionScheduler>();
        services.AddScoped<CaptionRequests>();
        services.AddHostedService<ModelLoader>();
        services.AddHealthChecks().AddCheck<ModelReadyHealthCheck>("model", tags: [ModelReadyHealthCheck.Tag]);
        return services;
    }
}
