using CaptionService.Api.Options;

namespace CaptionService.Api.Hosting;

public static class HostingServiceCollectionExtensions
{
    /// <summary>Validated <see cref="CaptionerOptions"/>, the <see cref="ModelHost"/>, its background loader and readiness check.</summary>
    public static IServiceCollection AddModelHosting(this IServiceCollection services)
    {
        services.AddOptions<CaptionerOptions>().BindConfiguration(CaptionerOptions.Section).ValidateOnStart();
        services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<CaptionerOptions>, CaptionerOptionsValidator>();
        services.AddSingleton<ModelHost>();
        services.AddHostedService<ModelLoader>();
        services.AddHealthChecks().AddCheck<ModelReadyHealthCheck>("model", tags: [ModelReadyHealthCheck.Tag]);
        return services;
    }
}
