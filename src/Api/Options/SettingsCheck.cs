using System.ComponentModel;
using System.Reflection;

namespace CaptionService.Api.Options;

/// <summary>
/// Every setting of the "Captioner" section, checked before the host is built: each value that is
/// not of its setting's type (a word where a number goes), each key that is no setting (a typo, a
/// setting in the wrong section), then <see cref="CaptionerOptionsValidator"/>'s ranges, and the
/// host settings that would undo what the service guards. One line per problem, naming the setting,
/// its value and what is allowed.
/// </summary>
public static class SettingsCheck
{
    public static IReadOnlyList<string> Problems(IConfiguration configuration)
    {
        var problems = new List<string>();
        var section = configuration.GetSection(CaptionerOptions.Section);
        CheckSection(section, typeof(CaptionerOptions), problems);
        if (problems.Count == 0)
        {
            // Everything converts: bind as the options system will, and check the ranges.
            var options = section.Get<CaptionerOptions>() ?? new CaptionerOptions();
            var result = new CaptionerOptionsValidator().Validate(null, options);
            if (result.Failed) problems.AddRange(result.Failures);
        }
        foreach (var url in (configuration["urls"] ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            try
            {
                Microsoft.AspNetCore.Http.BindingAddress.Parse(url);
            }
            catch (FormatException)
            {
                problems.Add($"urls (ASPNETCORE_URLS, --urls): must be addresses such as http://0.0.0.0:8080, separated by ';' (got '{url}')");
            }
        }
        // ASP.NET Core's own switch believes X-Forwarded-For from anyone (it clears the known proxies).
        if (bool.TryParse(configuration["FORWARDEDHEADERS_ENABLED"], out var forwarded) && forwarded)
            problems.Add("ASPNETCORE_FORWARDEDHEADERS_ENABLED: must not be true, it believes X-Forwarded-For from any client "
                + $"(a fresh address, and rate limit, per request); list the proxies in {CaptionerOptions.Section}:TrustedProxies instead (got 'true')");
        return problems;
    }

    private static void CheckSection(IConfigurationSection section, Type type, List<string> problems)
    {
        var settings = type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite).ToDictionary(p => p.Name, StringComparer.OrdinalIgnoreCase);
        foreach (var child in section.GetChildren())
        {
            if (!settings.TryGetValue(child.Key, out var setting))
            {
                problems.Add($"{child.Path}: is not a setting; the settings of {section.Path} are {string.Join(", ", settings.Keys)} (got '{child.Value ?? "a section"}')");
                continue;
            }
            var t = Nullable.GetUnderlyingType(setting.PropertyType) ?? setting.PropertyType;
            if (t.IsArray)
            {
                if (child.Value is { Length: > 0 })
                    problems.Add($"{child.Path}: is a list; give its items as {child.Path}:0, {child.Path}:1, ... (environment: "
                        + $"{child.Path.Replace(":", "__")}__0) (got '{child.Value}')");
                foreach (var item in child.GetChildren()) CheckValue(item, t.GetElementType()!, problems);
            }
            else if (t.IsClass && t != typeof(string))
            {
                if (child.Value is { Length: > 0 }) problems.Add($"{child.Path}: is a section of settings, not a value (got '{child.Value}')");
                CheckSection(child, t, problems);
            }
            else
            {
                CheckValue(child, t, problems);
            }
        }
    }

    /// <summary>The value converts as the configuration binder converts it (invariant culture).</summary>
    private static void CheckValue(IConfigurationSection setting, Type type, List<string> problems)
    {
        if (setting.Value is null)
        {
            problems.Add($"{setting.Path}: must be {Describe(type)}, not a section (got {string.Join(", ", setting.GetChildren().Select(c => c.Key))} under it)");
            return;
        }
        if (type == typeof(string)) return;
        try
        {
            TypeDescriptor.GetConverter(type).ConvertFromInvariantString(setting.Value);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or OverflowException or NotSupportedException || e.InnerException is FormatException or OverflowException)
        {
            problems.Add($"{setting.Path}: must be {Describe(type)} (got '{setting.Value}')");
        }
    }

    private static string Describe(Type type) => type switch
    {
        _ when type == typeof(int) => "a whole number",
        _ when type == typeof(long) => "a whole number",
        _ when type == typeof(double) => "a number",
        _ when type == typeof(bool) => "true or false",
        _ => $"a {type.Name}",
    };
}
