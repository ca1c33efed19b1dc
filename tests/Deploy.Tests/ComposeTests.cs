using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace CaptionService.Deploy.Tests;

/// <summary>docker-compose.yml (and its CPU override) parsed and checked: `docker compose` cannot run on these machines.</summary>
public class ComposeTests
{
    private static readonly YamlMappingNode Compose = Yaml.Document(Repo.PathOf("docker-compose.yml"));
    private static readonly YamlNode Service = Compose.At("services.captioner");

    [Fact]
    public void The_service_is_built_from_the_Dockerfile_with_the_cuda_backend_by_default()
    {
        Assert.Equal(".", Service.Text("build.context"));
        Assert.Equal("${TORCH_BACKEND:-cuda}", Service.Text("build.args.TORCH_BACKEND"));
        Assert.True(File.Exists(Repo.PathOf("Dockerfile")));
        Assert.False(Service.Has("profiles"), "the service itself starts without a profile");
    }

    [Fact]
    public void It_reserves_one_nvidia_gpu()
    {
        var device = Assert.Single(Service.Items("deploy.resources.reservations.devices"));
        Assert.Equal("nvidia", device.Text("driver"));
        Assert.Equal(1, device.Int("count"));
        Assert.Contains("gpu", device.Strings("capabilities"));
    }

    [Fact]
    public void It_publishes_port_8080_and_mounts_the_models_volume()
    {
        var port = Assert.Single(Service.Strings("ports"));
        Assert.Matches(@":8080$", port);
        Assert.Equal("8080", Service.Map("environment")["ASPNETCORE_HTTP_PORTS"]);

        Assert.Contains("models:/models", Service.Strings("volumes"));
        Assert.True(Compose.At("volumes").Has("models"));
    }

    [Fact]
    public void It_has_a_readiness_healthcheck_a_restart_policy_and_time_to_drain()
    {
        Assert.Equal(["CMD", "healthcheck"], Service.Strings("healthcheck.test")); // deploy/docker/healthcheck, in the image
        Assert.Contains("/health/ready", File.ReadAllText(Repo.PathOf("deploy/docker/healthcheck")));
        foreach (var key in new[] { "interval", "timeout", "retries", "start_period" }) Assert.True(Service.At("healthcheck").Has(key), key);
        Assert.True(Seconds(Service.Text("healthcheck.start_period")) >= 600, "a first start downloads about 1 GB before the model loads");
        Assert.Contains(Service.Text("restart"), new[] { "always", "unless-stopped", "on-failure" });

        var env = Service.Map("environment");
        var drain = int.Parse(env["DOTNET_SHUTDOWNTIMEOUTSECONDS"]);
        Assert.True(Seconds(Service.Text("stop_grace_period")) > drain, "stop_grace_period must outlast the host's drain");
    }

    [Fact]
    public void It_is_configured_through_the_Captioner_settings()
    {
        var env = Service.Map("environment");
        foreach (var key in new[] { "Captioner__Checkpoint", "Captioner__Device", "Captioner__DType", "Captioner__Batching__MaxBatchSize",
                     "Captioner__Batching__MaxWaitMs", "Captioner__Batching__QueueCapacity", "Captioner__Batching__RequestTimeoutSeconds" })
            Assert.True(env.ContainsKey(key), $"environment lacks {key}");
        // A real model by default (CAPTIONER_CHECKPOINT= set empty gives the built-in demo), valid as the service parses it.
        Assert.Equal("${CAPTIONER_CHECKPOINT-hf:nlpconnect/vit-gpt2-image-captioning}", env["Captioner__Checkpoint"]);
        Assert.Equal("nlpconnect/vit-gpt2-image-captioning", Hub.ModelReference.Parse("hf:nlpconnect/vit-gpt2-image-captioning").RepoId);
    }

    [Fact]
    public void The_hub_cache_is_on_the_models_volume_and_the_token_is_passed_through()
    {
        var env = Service.Map("environment");
        var volume = Service.Strings("volumes").Select(v => v.Split(':')).Single(v => v[0] == "models");
        Assert.StartsWith(volume[1] + "/", env["HF_HOME"]);
        Assert.True(Compose.At("volumes").Has("models"), "a named volume, so the download survives the container");
        Assert.Equal("${HF_TOKEN:-}", env["HF_TOKEN"]); // blank is unset for the service, as for huggingface_hub
        Assert.Equal("${HF_HUB_OFFLINE:-0}", env["HF_HUB_OFFLINE"]);

        // The CPU override keeps the model and the Hub settings.
        var cpu = Yaml.Document(Repo.PathOf("docker-compose.cpu.yml")).At("services.captioner").Map("environment");
        Assert.DoesNotContain(cpu.Keys, k => k.StartsWith("HF_", StringComparison.Ordinal) || k == "Captioner__Checkpoint");
    }

    [Fact]
    public void The_observability_profile_adds_a_collector_jaeger_and_prometheus_wired_to_the_service()
    {
        var services = (YamlMappingNode)Compose.At("services");
        foreach (var name in new[] { "otel-collector", "jaeger", "prometheus" })
            Assert.Equal(["observability"], services.At(name).Strings("profiles"));

        // Every bind-mounted file exists.
        foreach (var (name, service) in services.Children.Select(c => (((YamlScalarNode)c.Key).Value, c.Value)))
            if (service.Has("volumes"))
                foreach (var volume in service.Strings("volumes").Where(v => v.StartsWith("./", StringComparison.Ordinal)))
                    Assert.True(File.Exists(Repo.PathOf(volume.Split(':')[0][2..])), $"{name}: {volume} mounts a missing file");

        // The service exports OTLP to the collector's gRPC receiver, which sends traces to Jaeger.
        var endpoint = new Uri(Regex.Match(Service.Map("environment")["OTEL_EXPORTER_OTLP_ENDPOINT"], @"http://[^}]+").Value);
        Assert.Equal("otel-collector", endpoint.Host);
        var collector = Yaml.Document(Repo.PathOf("deploy/observability/otel-collector.yaml"));
        Assert.EndsWith(":" + endpoint.Port, collector.Text("receivers.otlp.protocols.grpc.endpoint"));
        Assert.StartsWith("jaeger:", collector.Text("exporters.otlp/jaeger.endpoint"));
        Assert.Contains("otlp/jaeger", collector.Strings("service.pipelines.traces.exporters"));

        // Prometheus scrapes the service's /metrics.
        var prometheus = Yaml.Document(Repo.PathOf("deploy/observability/prometheus.yml"));
        var job = prometheus.Items("scrape_configs").Single(j => j.Text("job_name") == "captioner");
        Assert.Equal("/metrics", job.Text("metrics_path"));
        Assert.Contains("captioner:8080", job.At("static_configs.[0]").Strings("targets"));
    }

    [Fact]
    public void The_cpu_override_drops_the_gpu_reservation_and_builds_the_cpu_backend()
    {
        var cpu = Yaml.Document(Repo.PathOf("docker-compose.cpu.yml")).At("services.captioner");
        Assert.Equal("cpu", cpu.Text("build.args.TORCH_BACKEND"));
        Assert.Equal("cpu", cpu.Map("environment")["Captioner__Device"]);
        Assert.Equal("!reset", cpu.At("deploy").Tag.Value);
    }

    private static int Seconds(string duration)
    {
        var m = Regex.Match(duration, @"^(?:(\d+)m)?(?:(\d+)s)?$");
        Assert.True(m.Success, $"duration {duration}");
        return (m.Groups[1].Success ? int.Parse(m.Groups[1].Value) * 60 : 0) + (m.Groups[2].Success ? int.Parse(m.Groups[2].Value) : 0);
    }
}
