using CaptionService.Model.Checkpoints;
using static TorchSharp.torch;

namespace CaptionService.Model.Tests.Checkpoints;

public class WeightSourceTests
{
    [Fact]
    public void Reads_both_formats_in_their_dtypes()
    {
        using var dir = new TempDir();
        var tensors = new Dictionary<string, Tensor> { ["a"] = arange(6, dtype: float32).view(2, 3), ["b"] = ones(4, dtype: bfloat16) };
        foreach (var name in new[] { "w.safetensors", "pytorch_model.bin" })
        {
            TestFiles.Save(dir[name], tensors);
            var back = WeightSource.Load(dir[name]);
            Assert.Equal((ScalarType.Float32, ScalarType.BFloat16), (back["a"].dtype, back["b"].dtype));
            Assert.True(CheckpointTests.Same(tensors["a"], back["a"]));
            Assert.Equal([2L, 3], WeightSource.ReadShapes(dir[name])["a"]);
        }
    }

    [Fact]
    public void Unreadable_files_are_named()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["notes.bin"], "just some text, not weights");
        var e = Assert.Throws<InvalidDataException>(() => WeightSource.Load(dir["notes.bin"]));
        Assert.Contains($"{dir["notes.bin"]}: neither a safetensors file nor a PyTorch (zip) checkpoint", e.Message);

        File.WriteAllBytes(dir["old.bin"], [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20]); // torch.save before 1.6
        e = Assert.Throws<InvalidDataException>(() => WeightSource.Load(dir["old.bin"]));
        Assert.Contains($"{dir["old.bin"]}: a PyTorch checkpoint in the legacy", e.Message);

        TestFiles.Save(dir["cut.safetensors"], new Dictionary<string, Tensor> { ["a"] = ones(100) });
        var bytes = File.ReadAllBytes(dir["cut.safetensors"]);
        File.WriteAllBytes(dir["cut.safetensors"], bytes[..^16]);
        e = Assert.Throws<InvalidDataException>(() => WeightSource.Load(dir["cut.safetensors"]));
        Assert.Contains($"{dir["cut.safetensors"]}: tensor 'a'", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Find_prefers_the_standard_names_and_refuses_to_guess()
    {
        using var dir = new TempDir();
        TestFiles.Save(dir["only/vit.pth"], new Dictionary<string, Tensor> { ["a"] = ones(1) });
        Assert.Equal(dir["only/vit.pth"], WeightSource.Find(Path.Combine(dir.Path, "only")));

        TestFiles.Save(dir["two/a.safetensors"], new Dictionary<string, Tensor> { ["a"] = ones(1) });
        TestFiles.Save(dir["two/b.safetensors"], new Dictionary<string, Tensor> { ["a"] = ones(1) });
        var e = Assert.Throws<FileNotFoundException>(() => WeightSource.Find(Path.Combine(dir.Path, "two")));
        Assert.Contains("several candidates (a.safetensors, b.safetensors)", e.Message);

        TestFiles.Save(dir["two/model.safetensors"], new Dictionary<string, Tensor> { ["a"] = ones(1) });
        Assert.Equal(dir["two/model.safetensors"], WeightSource.Find(Path.Combine(dir.Path, "two")));
    }

    [Fact]
    public void A_reader_reads_tensor_by_tensor_from_both_formats_and_from_stored_zip_entries_as_torch_save_writes_them()
    {
        using var dir = new TempDir();
        var tensors = new Dictionary<string, Tensor>
        {
            ["a"] = arange(6, dtype: float32).view(2, 3),
            ["b"] = ones(4, dtype: bfloat16),
            ["c"] = arange(12, dtype: float32).view(3, 4).t(), // stored with its strides
        };
        TestFiles.Save(dir["w.safetensors"], tensors);
        TestFiles.Save(dir["deflated.bin"], tensors);
        Restore(dir["deflated.bin"], dir["stored.bin"]);
        foreach (var name in new[] { "w.safetensors", "deflated.bin", "stored.bin" })
        {
            using var reader = WeightReader.Open(dir[name]);
            Assert.Equal([4L, 3], reader.Shapes["c"]);
            foreach (var (key, expected) in tensors)
            {
                using var read = reader.Read(key);
                Assert.Equal(expected.dtype, read.dtype);
                Assert.True(CheckpointTests.Same(expected, read), $"{name}: {key}");
            }
            // Straight into a parameter's memory, except from a compressed entry (its length is unknown before reading).
            using var again = WeightReader.Open(dir[name]); // a pickle's tensors are read once each
            using var target = zeros(2, 3);
            Assert.Equal(name != "deflated.bin", again.TryReadInto("a", target));
            if (name != "deflated.bin") Assert.True(CheckpointTests.Same(tensors["a"], target), name);
            using var other = zeros(4, dtype: float32);
            Assert.False(again.TryReadInto("b", other)); // another dtype goes through Read
        }
    }

    /// <summary>Rewrites a zip with every entry stored (no compression), as torch.save writes checkpoints.</summary>
    private static void Restore(string from, string to)
    {
        using var source = System.IO.Compression.ZipFile.OpenRead(from);
        using var target = System.IO.Compression.ZipFile.Open(to, System.IO.Compression.ZipArchiveMode.Create);
        foreach (var entry in source.Entries)
        {
            using var read = entry.Open();
            using var write = target.CreateEntry(entry.FullName, System.IO.Compression.CompressionLevel.NoCompression).Open();
            read.CopyTo(write);
        }
    }
}
