using System.CommandLine;
using CaptionService.Model;

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
            foreach (var chunk in files.Chunk(size))
            {
                // A bad file is reported by name; the rest still get captions.
                var loaded = new List<(FileInfo File, float[] Pixels)>();
                foreach (var file in chunk)
                {
                    try { loaded.Add((file, ImageFiles.Load(pipeline.Preprocessor, file.FullName))); }
                    catch (InvalidDataException e) { error.WriteLine(e.Message); failures++; }
                }
                if (loaded.Count == 0) continue;
                var captions = pipeline.Caption(loaded.Select(l => l.Pixels).ToList(), options);
                foreach (var (file, caption) in loaded.Zip(captions))
                    output.WriteLine(files.Length == 1 ? caption.Text : $"{file.File.Name}\t{caption.Text}");
            }
            return failures == 0 ? 0 : 1;
        });
        return command;
    }
}
