namespace CaptionService.Api.Hosting;

/// <summary>
/// Where the service finds its settings (appsettings.json) and the page (wwwroot): the folder it was
/// built or published into, whatever folder it is started from. ASP.NET Core's default is the working
/// directory, so the built service started from anywhere else served no page and ignored its settings.
/// </summary>
public static class ContentRoot
{
    /// <summary>The app's own folder, or null when the content root is given explicitly
    /// (<c>--contentRoot</c>, <c>ASPNETCORE_CONTENTROOT</c>, <c>DOTNET_CONTENTROOT</c>; the test host gives it too).</summary>
    public static string? For(string[] args)
    {
        bool given = args.Any(a => a.Contains("contentRoot", StringComparison.OrdinalIgnoreCase))
            || Environment.GetEnvironmentVariable("ASPNETCORE_CONTENTROOT") is not null
            || Environment.GetEnvironmentVariable("DOTNET_CONTENTROOT") is not null;
        return given ? null : AppContext.BaseDirectory;
    }
}
