using System.Net;
using CaptionService.Api.Options;
using Microsoft.AspNetCore.HttpOverrides;

namespace CaptionService.Api.Endpoints;

/// <summary>
/// Behind reverse proxies, the client's address comes from <c>X-Forwarded-For</c>, but only from the
/// proxies in <see cref="CaptionerOptions.TrustedProxies"/>: the header is believed hop by hop while
/// the hop is one of them. With none configured the header is ignored: a client could write any
/// address into it, and get a fresh rate limit with each.
/// </summary>
public static class TrustedProxies
{
    public static WebApplication UseTrustedProxies(this WebApplication app)
    {
        var proxies = app.Configuration.GetSection(CaptionerOptions.Section).Get<CaptionerOptions>()?.TrustedProxies ?? [];
        if (proxies.Length == 0) return app;
        var forwarded = new ForwardedHeadersOptions
        {
            ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto,
            ForwardLimit = null,   // walk back through every trusted hop, stop at the first other one
        };
        forwarded.KnownProxies.Clear();    // not even loopback by default
        forwarded.KnownIPNetworks.Clear();
        foreach (var proxy in proxies)
        {
            if (IPAddress.TryParse(proxy, out var address)) forwarded.KnownProxies.Add(address);
            else forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(proxy));
        }
        app.UseForwardedHeaders(forwarded);
        return app;
    }
}
