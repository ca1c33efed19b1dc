using System.Net;
using CaptionService.Api.Hosting;
using CaptionService.Model;
using CaptionService.Model.Checkpoints;
using CaptionService.Model.Imaging;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp.PixelFormats;
using TorchSharp;

namespace CaptionService.Api.Tests;

/// <summary>The service preprocesses as the checkpoint says, through the same code as the library and the CLI.</summary>
public class PreprocessingTests
{
    [Fact]
    public async Task A_checkpoints_preprocessing_is_used_and_shown_by_model()
    {
        var dir = Path.Combine(Directory.CreateTempSubdirectory("api-tests-").FullName, "lanczos-crop");
        try
        {
            var steps = new PreprocessingConfig
            {
                Source = "test: Pillow's lanczos, shortest edge 40, center crop",
                Resize = new ResizeTarget { ShortestEdge = 40 },
                Resample = ResampleFilter.Lanczos,
                CenterCrop = new CenterCrop(32, 32) { Rounding = CropRounding.HalfEven },
            };
            var config = Presets.Tiny with { Preprocessing = steps, Decoding = new DecodingOptions { MaxNewTokens = 8 } };
            torch.manual_seed(3);
            using (var model = new Captioner(config)) Checkpoint.Save(model, dir);

            await using var factory = new ApiFactory(new Dictionary<string, string?> { ["Captioner:Checkpoint"] = dir, ["Captioner:Device"] = "cpu" });
            var client = await factory.ReadyClientAsync();

            var info = (await Http.Json(await client.GetAsync("/model"))).GetProperty("preprocessing");
            Assert.Equal(steps.Source, info.GetProperty("source").GetString());
            Assert.Equal("lanczos", info.GetProperty("settings").GetProperty("resample").GetString());
            Assert.Equal(40, info.GetProperty("settings").GetProperty("resize").GetProperty("shortest_edge").GetInt32());
            Assert.Equal(
                ["decode, apply the EXIF orientation, convert to RGB (alpha dropped)",
                 "resize to shortest edge 40 with Pillow's lanczos (8-bit result)",
                 "center crop 32 x 32 (offsets rounded half to even)",
                 "rescale by 1/255",
                 "normalize: (x - [0.5, 0.5, 0.5]) / [0.5, 0.5, 0.5]"],
                info.GetProperty("steps").EnumerateArray().Select(e => e.GetString()));

            // The service's preprocessor is the checkpoint's, and its caption is the library's (the CLI's path too).
            var served = factory.Services.GetRequiredService<ModelHost>().Current!;
            Assert.Equal(steps, served.Pipeline.Preprocessor.Transform.Steps);
            var picture = Images.Png(150, 97, (x, y) => (x / 9 + y / 7) % 2 == 0 ? new Rgb24(230, 30, 30) : new Rgb24((byte)x, 200, (byte)(y * 2)));
            var response = await client.PostAsync("/captions", Http.Form(picture));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var expected = new CaptionPipeline(Checkpoint.Load(dir)).Caption([picture])[0];
            Assert.Equal(expected.Text, (await Http.Json(response)).GetProperty("caption").GetString());
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(dir)!, recursive: true);
        }
    }
}
