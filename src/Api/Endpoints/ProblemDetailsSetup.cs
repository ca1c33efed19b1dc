using CaptionService.Api.Intake;
using CaptionService.Api.Options;
using Microsoft.Extensions.Options;

namespace CaptionService.Api.Endpoints;

public static class ProblemDetailsSetup
{
    /// <summary>
    /// RFC 7807 bodies for every error answer, including those the framework makes before an
    /// endpoint runs (a body over Kestrel's limit, a request that is not a form, 404, 405); those
    /// get a <c>detail</c> saying what to send instead. Exception internals never appear outside
    /// Development.
    /// </summary>
    public static IServiceCollection AddApiProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails(problems => problems.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            if (problem.Detail is not null || context.Exception is not null) return;
            var options = context.HttpContext.RequestServices.GetRequiredService<IOptions<CaptionerOptions>>().Value;
            problem.Detail = problem.Status switch
            {
                StatusCodes.Status413PayloadTooLarge =>
                    $"The request is larger than the {UploadLimits.RequestBodyLimit(options):N0} bytes accepted "
                    + $"(up to {options.MaxImagesPerRequest} images of at most {options.MaxUploadBytes:N0} bytes each, plus the form).",
                StatusCodes.Status415UnsupportedMediaType =>
                    $"Send multipart/form-data with the image as a file field named '{FormFields.Image}'.",
                _ => null,
            };
        });
        // Route handlers answer a request they cannot bind with a 4xx (and no exception), in Development too.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = false);
        return services;
    }
}
