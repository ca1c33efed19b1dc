using YamlDotNet.RepresentationModel;

namespace CaptionService.Deploy.Tests;

/// <summary>Every manifest in deploy/k8s parsed and checked (no cluster here: nothing is applied).</summary>
public class KubernetesTests
{
    private static readonly string Dir = Repo.PathOf("deploy/k8s");

    /// <summary>Kubernetes objects by kind (the Helm values for prometheus-adapter are not one).</summary>
    private static readonly Dictionary<string, YamlMappingNode> Objects = Directory.GetFiles(Dir, "*.yaml")
        .Where(f => !f.EndsWith("prometheus-adapter-values.yaml", StringComparison.Ordinal))
        .SelectMany(Yaml.Documents)
        .ToDictionary(d => d.Text("kind"));

    private static YamlNode Deployment => Objects["Deployment"];
    private static YamlNode Container => Deployment.At("spec.template.spec.containers.[0]");
    private static Dictionary<string, string> PodLabels => Deployment.Map("spec.template.metadata.labels");

    [Fact]
    public void Every_manifest_parses_and_names_its_kind_and_api_version()
    {
        Assert.Equal(["Deployment", "HorizontalPodAutoscaler", "Kustomization", "PersistentVolumeClaim", "PodDisruptionBudget", "Service", "ServiceMonitor"],
            Objects.Keys.Order());
        foreach (var (kind, o) in Objects)
        {
            Assert.False(string.IsNullOrEmpty(o.Text("apiVersion")), kind);
            if (kind != "Kustomization") Assert.False(string.IsNullOrEmpty(o.Text("metadata.name")), kind);
        }

        // The kustomization lists every plain Kubernetes object (not the ServiceMonitor, which needs the operator's CRDs).
        var resources = Objects["Kustomization"].Strings("resources");
        foreach (var file in resources) Assert.True(File.Exists(Path.Combine(Dir, file)), file);
        Assert.Equal(["deployment.yaml", "hpa.yaml", "models-pvc.yaml", "pdb.yaml", "service.yaml"], resources.Order());
    }

    [Fact]
    public void Pods_request_one_gpu_and_pull_a_hub_model_into_the_shared_models_volume()
    {
        Assert.Equal("1", Container.Map("resources.requests")["nvidia.com/gpu"]);
        Assert.Equal("1", Container.Map("resources.limits")["nvidia.com/gpu"]);

        var env = Container.Items("env").Where(e => e.Has("value")).ToDictionary(e => e.Text("name"), e => e.Text("value"));
        var mount = Container.At("volumeMounts.[0]");
        Assert.Equal("nlpconnect/vit-gpt2-image-captioning", Hub.ModelReference.Parse(env["Captioner__Checkpoint"]).RepoId);
        Assert.StartsWith(mount.Text("mountPath") + "/", env["HF_HOME"]); // the cache on the volume, fetched once for all pods
        Assert.False(mount.Has("readOnly") && mount.Text("readOnly") == "true", "the pods write the cache");
        Assert.Equal("cuda", env["Captioner__Device"]);
        var volume = Deployment.Items("spec.template.spec.volumes").Single(v => v.Text("name") == mount.Text("name"));
        Assert.Equal(Objects["PersistentVolumeClaim"].Text("metadata.name"), volume.Text("persistentVolumeClaim.claimName"));
        Assert.Equal(["ReadWriteMany"], Objects["PersistentVolumeClaim"].Strings("spec.accessModes"));
        Assert.Equal("true", Deployment.Text("spec.template.spec.securityContext.runAsNonRoot"));

        // HF_TOKEN from a Secret that may be absent (public models need none).
        var token = Container.Items("env").Single(e => e.Text("name") == "HF_TOKEN");
        Assert.Equal("true", token.Text("valueFrom.secretKeyRef.optional"));
    }

    [Fact]
    public void Probes_use_the_health_endpoints()
    {
        var port = Container.At("ports.[0]");
        Assert.Equal(8080, port.Int("containerPort"));
        Assert.Equal("/health/live", Container.Text("livenessProbe.httpGet.path"));
        Assert.Equal("/health/ready", Container.Text("readinessProbe.httpGet.path"));
        Assert.Equal("/health/live", Container.Text("startupProbe.httpGet.path"));
        foreach (var probe in new[] { "livenessProbe", "readinessProbe", "startupProbe" })
            Assert.Equal(port.Text("name"), Container.Text(probe + ".httpGet.port"));
        // The startup probe gives a model load and warm-up several minutes before liveness can restart the pod.
        Assert.True(Container.Int("startupProbe.periodSeconds") * Container.Int("startupProbe.failureThreshold") >= 180);
    }

    [Fact]
    public void The_grace_period_outlasts_the_pre_stop_pause_plus_the_batchers_drain()
    {
        var preStop = Container.Strings("lifecycle.preStop.exec.command");
        Assert.Equal("sleep", preStop[0]);
        var env = Container.Items("env").Where(e => e.Has("value")).ToDictionary(e => e.Text("name"), e => e.Text("value"));
        var drain = int.Parse(env["DOTNET_SHUTDOWNTIMEOUTSECONDS"]);
        var grace = Deployment.Int("spec.template.spec.terminationGracePeriodSeconds");
        Assert.True(grace >= int.Parse(preStop[1]) + drain + 10, $"terminationGracePeriodSeconds {grace} < preStop {preStop[1]} + drain {drain} + 10");
        Assert.Equal("0", Deployment.Text("spec.strategy.rollingUpdate.maxUnavailable"));
    }

    [Fact]
    public void The_service_pdb_and_service_monitor_select_the_deployments_pods()
    {
        Assert.Equal(PodLabels, Deployment.Map("spec.selector.matchLabels"));
        Assert.Equal(PodLabels, Objects["Service"].Map("spec.selector"));
        Assert.Equal(PodLabels, Objects["PodDisruptionBudget"].Map("spec.selector.matchLabels"));
        Assert.True(Objects["PodDisruptionBudget"].At("spec").Has("maxUnavailable") || Objects["PodDisruptionBudget"].At("spec").Has("minAvailable"));
        Assert.True(Deployment.Int("spec.replicas") >= 2, "a PDB protects something only with more than one replica");

        var servicePort = Objects["Service"].At("spec.ports.[0]");
        Assert.Equal(Container.Text("ports.[0].name"), servicePort.Text("targetPort"));

        var monitor = Objects["ServiceMonitor"];
        var serviceLabels = Objects["Service"].Map("metadata.labels");
        foreach (var (key, value) in monitor.Map("spec.selector.matchLabels")) Assert.Equal(value, serviceLabels[key]);
        Assert.Equal(servicePort.Text("name"), monitor.Text("spec.endpoints.[0].port"));
        Assert.Equal("/metrics", monitor.Text("spec.endpoints.[0].path"));
    }

    [Fact]
    public void The_autoscaler_scales_the_deployment_on_the_queue_depth_that_prometheus_adapter_serves()
    {
        var hpa = Objects["HorizontalPodAutoscaler"];
        Assert.Equal("autoscaling/v2", hpa.Text("apiVersion"));
        Assert.Equal("Deployment", hpa.Text("spec.scaleTargetRef.kind"));
        Assert.Equal(Deployment.Text("metadata.name"), hpa.Text("spec.scaleTargetRef.name"));
        Assert.True(hpa.Int("spec.minReplicas") <= hpa.Int("spec.maxReplicas"));

        var metric = Assert.Single(hpa.Items("spec.metrics"));
        Assert.Equal("Pods", metric.Text("type"));
        Assert.Equal("captioner_queue_depth", metric.Text("pods.metric.name"));
        Assert.Equal("AverageValue", metric.Text("pods.target.type"));

        // The adapter rule that turns the scraped gauge into that custom metric, per pod.
        var adapter = Yaml.Document(Path.Combine(Dir, "prometheus-adapter-values.yaml"));
        var rule = Assert.Single(adapter.Items("rules.custom"));
        Assert.StartsWith("captioner_queue_depth{", rule.Text("seriesQuery"));
        Assert.Equal("captioner_queue_depth", rule.Text("name.as"));
        Assert.Equal("pod", rule.Text("resources.overrides.pod.resource"));
        Assert.Equal("namespace", rule.Text("resources.overrides.namespace.resource"));
        Assert.Contains("<<.GroupBy>>", rule.Text("metricsQuery"));
    }
}
