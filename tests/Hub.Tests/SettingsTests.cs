namespace CaptionService.Hub.Tests;

public class SettingsTests
{
    [Theory]
    [InlineData("hf:nlpconnect/vit-gpt2-image-captioning", "nlpconnect", "vit-gpt2-image-captioning", null)]
    [InlineData("hf:timm/vit_base_patch16_224.augreg2_in21k_ft_in1k@main", "timm", "vit_base_patch16_224.augreg2_in21k_ft_in1k", "main")]
    [InlineData("hf:openai-community/gpt2@refs/pr/12", "openai-community", "gpt2", "refs/pr/12")]
    [InlineData(" hf:a/b@607a30d783dfa663caf39e06633721c8d4cfcd7e ", "a", "b", "607a30d783dfa663caf39e06633721c8d4cfcd7e")]
    public void Good_references_parse(string text, string owner, string name, string? revision)
    {
        var reference = ModelReference.Parse(text);
        Assert.Equal((owner, name, revision), (reference.Owner, reference.Name, reference.Revision));
        Assert.Equal(text.Trim(), reference.ToString());
    }

    [Theory]
    [InlineData("hf:gpt2", "give the owner and the name")]
    [InlineData("hf:", "give the owner and the name")]
    [InlineData("hf:a/b/c", "give the owner and the name")]
    [InlineData("hf:own er/name", "the owner 'own er' is not a valid repository owner")]
    [InlineData("hf:owner/-name", "the name '-name' is not a valid")]
    [InlineData("hf:owner/na--me", "the name 'na--me' is not a valid")]
    [InlineData("hf:owner/name@", "the revision '' is not a branch")]
    [InlineData("hf:owner/name@../../etc", "the revision '../../etc' is not a branch")]
    [InlineData("hf:owner/name@a b", "the revision 'a b' is not a branch")]
    public void Malformed_references_say_what_is_wrong_and_the_expected_form(string text, string says)
    {
        var e = Assert.Throws<FormatException>(() => ModelReference.Parse(text));
        Assert.Contains(says, e.Message);
        Assert.False(ModelReference.TryParse(text, out _, out var error));
        Assert.Equal(e.Message, error);
    }

    private static HubSettings From(params (string Key, string Value)[] variables) =>
        HubSettings.From(name => variables.FirstOrDefault(v => v.Key == name).Value);

    [Fact]
    public void The_cache_and_token_are_found_where_huggingface_hub_looks()
    {
        Assert.Equal("/home/u/.cache/huggingface/hub", From(("HOME", "/home/u")).CacheDirectory);
        Assert.Equal("/x/huggingface/hub", From(("HOME", "/home/u"), ("XDG_CACHE_HOME", "/x")).CacheDirectory);
        Assert.Equal("/hf/hub", From(("HOME", "/home/u"), ("XDG_CACHE_HOME", "/x"), ("HF_HOME", "/hf")).CacheDirectory);
        Assert.Equal("/cache", From(("HF_HOME", "/hf"), ("HF_HUB_CACHE", "/cache")).CacheDirectory);
        Assert.Equal("/home/u/models", From(("HOME", "/home/u"), ("HF_HUB_CACHE", "~/models")).CacheDirectory);
        Assert.Equal(HubSettings.DefaultEndpoint, From(("HF_HOME", "/hf")).Endpoint);
        Assert.Equal(new Uri("http://mirror:8080/"), From(("HF_HOME", "/hf"), ("HF_ENDPOINT", "http://mirror:8080/")).Endpoint);

        var home = Directory.CreateTempSubdirectory("hf-home-").FullName;
        try
        {
            Assert.Null(From(("HF_HOME", home)).Token);
            File.WriteAllText(Path.Combine(home, "token"), "hf_from_file\n");
            var fromFile = From(("HF_HOME", home));
            Assert.Equal(("hf_from_file", Path.Combine(home, "token")), (fromFile.Token, fromFile.TokenSource));
            File.WriteAllText(Path.Combine(home, "other"), "hf_other");
            Assert.Equal("hf_other", From(("HF_HOME", home), ("HF_TOKEN_PATH", Path.Combine(home, "other"))).Token);
            var fromEnvironment = From(("HF_HOME", home), ("HF_TOKEN", "hf_env"));
            Assert.Equal(("hf_env", "HF_TOKEN"), (fromEnvironment.Token, fromEnvironment.TokenSource));
            Assert.Equal("hf_from_file", From(("HF_HOME", home), ("HF_TOKEN", "  ")).Token); // blank is unset, as in compose's ${HF_TOKEN:-}
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("TRUE", true)]
    [InlineData("yes", true)]
    [InlineData("on", true)]
    [InlineData("0", false)]
    [InlineData("false", false)]
    public void Offline_takes_huggingface_hub_s_truthy_values(string value, bool offline)
    {
        Assert.Equal(offline, From(("HF_HOME", "/hf"), ("HF_HUB_OFFLINE", value)).Offline);
    }

    [Fact]
    public void A_bad_endpoint_or_timeout_names_its_variable()
    {
        Assert.Contains("HF_ENDPOINT 'ftp://x' is not an http(s) URL", Assert.Throws<ArgumentException>(() => From(("HF_HOME", "/hf"), ("HF_ENDPOINT", "ftp://x"))).Message);
        Assert.Contains("HF_HUB_DOWNLOAD_TIMEOUT 'soon'", Assert.Throws<ArgumentException>(() => From(("HF_HOME", "/hf"), ("HF_HUB_DOWNLOAD_TIMEOUT", "soon"))).Message);
    }
}
