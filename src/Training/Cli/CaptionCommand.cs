using System.CommandLine;
using CaptionService.Model;
using CaptionService.Model.Imaging;

namespace CaptionService.Training.Cli;

/// <summary><c>captioner caption --checkpoint DIR IMAGE...</c>: one caption per image, in order.</summary>
internal static class CaptionCommand
{
    public static Command Create()
    {
        var model = new ModelArguments();
        var decoding = new DecodingArguments();
        var images = new Argument<FileInfo[]>("images") { Description = "Image files (JPEG, PNG, WebP, BMP, GIF)", Arity = ArgumentArity.OneOrMore };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per forward pass", DefaultValueFactory = _ => 8 };
        var command = new Command("caption", "Caption images: prints one line per image, in order") { images, batchSize };
        model.AddTo(command);
        decoding.AddTo(command);
        command.SetAction(result =>
        {
            var (output, error) = (result.InvocationConfiguration.Output, result.InvocationConfiguration.Error);
            var (captioner, _) = model.Load(result);
            var options = decoding.Resolve(result, captioner.Config.Decoding);
            var pipeline = new CaptionPipeline(captioner);
            var files = result.GetValue(images)!;
            int size = Math.Max(1, result.GetValue(batchSize));
            int failures = 0;
            // Read and check every file first, so one bad file is reported by name and the rest still get captions.
            var readable = new List<(FileInfo File, byte[] Bytes)>();
            foreach (var file in files)
            {
                try
                {
                    var bytes = File.ReadAllBytes(file.FullName);
                    pipeline.Preprocessor.Identify(bytes);
                    readable.Add((file, bytes));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ImageRejectedException)
                {
                    error.WriteLine($"{file.FullName}: {e.Message}");
                    failures++;
                }
            }
            foreach (var chunk in readable.Chunk(size))
            {
                var captions = pipeline.Caption(chunk.Select(c => c.Bytes).ToList(), options);
                foreach (var (file, caption) in chunk.Zip(captions))
                    output.WriteLine(files.Length == 1 ? caption.Text : $"{file.File.Name}\t{caption.Text}");
            }
            return failures == 0 ? 0 : 1;
        });
        return command;
    }
}
