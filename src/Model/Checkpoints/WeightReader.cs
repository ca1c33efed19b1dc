using System.Collections;
using System.Reflection;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace CaptionService.Model.Checkpoints;

/// <summary>
/// A weights file read one tensor at a time, so that loading a model never holds all of the file's
/// tensors and the model's at once: a tensor whose dtype and shape already fit its parameter is read
/// straight into the parameter's memory; any other goes through one temporary tensor.
/// Safetensors are read by the byte ranges in their header; a PyTorch zip pickle through
/// TorchSharp.PyBridge's deferred reading (each tensor's archive entry is read when asked for).
/// </summary>
internal abstract class WeightReader(string path) : IDisposable
{
    public string Path { get; } = path;

    public abstract IReadOnlyDictionary<string, long[]> Shapes { get; }

    /// <summary>A new CPU tensor in the file's dtype; the caller disposes it.</summary>
    public abstract Tensor Read(string name);

    /// <summary>Reads the tensor straight into <paramref name="target"/> when the bytes can go there as they are
    /// (same dtype and shape, target contiguous on the CPU); false when they cannot (then nothing was read).</summary>
    public abstract bool TryReadInto(string name, Tensor target);

    public abstract void Dispose();

    /// <summary>Opens a safetensors file or a PyTorch zip pickle (told apart by their first bytes). Errors name the file.</summary>
    public static WeightReader Open(string path)
    {
        try
        {
            return WeightSource.IsSafetensors(path) ? new SafetensorsReader(path) : new PickleReader(path);
        }
        catch (Exception e) when (e is not (InvalidDataException or FileNotFoundException))
        {
            throw new InvalidDataException($"{path}: cannot read weights: {e.Message}", e);
        }
    }

    /// <summary>Tensors already in memory (not disposed by this reader).</summary>
    public static WeightReader InMemory(string path, IReadOnlyDictionary<string, Tensor> tensors) => new MemoryReader(path, tensors);

    protected static bool FitsAsIs(Tensor target, ScalarType dtype, long[] shape) =>
        target.dtype == dtype && target.shape.SequenceEqual(shape) && target.device_type == TorchSharp.DeviceType.CPU
        && target.is_contiguous() && target.NumberOfElements * target.ElementSize <= int.MaxValue;

    protected InvalidDataException Error(string name, Exception e) =>
        e as InvalidDataException ?? new InvalidDataException($"{Path}: cannot read tensor '{name}': {e.Message}", e);

    private sealed class SafetensorsReader : WeightReader
    {
        private readonly Dictionary<string, SafetensorsHeader.Entry> entries;
        private readonly FileStream stream;

        public SafetensorsReader(string path) : base(path)
        {
            entries = SafetensorsHeader.Read(path); // names, dtypes and byte ranges checked against the file's length
            Shapes = entries.ToDictionary(e => e.Key, e => e.Value.Shape);
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1); // reads go straight into tensors
        }

        public override IReadOnlyDictionary<string, long[]> Shapes { get; }

        public override Tensor Read(string name)
        {
            var entry = entries[name];
            var tensor = empty(entry.Shape, SafetensorsHeader.ScalarTypeOf(entry.DType));
            try
            {
                ReadBytes(entry, tensor);
                return tensor;
            }
            catch (Exception e)
            {
                tensor.Dispose();
                throw Error(name, e);
            }
        }

        public override bool TryReadInto(string name, Tensor target)
        {
            var entry = entries[name];
            if (!FitsAsIs(target, SafetensorsHeader.ScalarTypeOf(entry.DType), entry.Shape)) return false;
            try { ReadBytes(entry, target); }
            catch (Exception e) { throw Error(name, e); }
            return true;
        }

        private void ReadBytes(SafetensorsHeader.Entry entry, Tensor tensor)
        {
            stream.Position = entry.Offset;
            if (tensor.NumberOfElements * tensor.ElementSize <= int.MaxValue) stream.ReadExactly(tensor.bytes); // the tensor's own memory
            else tensor.ReadBytesFromStream(stream);
        }

        public override void Dispose() => stream.Dispose();
    }

    /// <summary>
    /// TorchSharp.PyBridge 1.4.4 unpickles a state dict without reading the tensors when asked
    /// (<c>skipTensorRead</c>, which its own <c>load_py</c> uses to read straight into a module);
    /// the values it then returns are descriptors of an internal type, read here through reflection.
    /// </summary>
    private sealed class PickleReader : WeightReader
    {
        private readonly FileStream stream;
        private readonly Dictionary<string, Descriptor> tensors = [];

        public PickleReader(string path) : base(path)
        {
            stream = File.OpenRead(path);
            try
            {
                var table = PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: true, skipTensorRead: true);
                foreach (DictionaryEntry e in table)
                    tensors[(string)e.Key] = Descriptor.Of(e.Value) ?? throw new InvalidDataException(
                        $"{path}: not a flat state dict: '{e.Key}' holds a {e.Value?.GetType().Name ?? "null"}, not a tensor");
                Shapes = tensors.ToDictionary(e => e.Key, e => e.Value.Shape);
                shared = tensors.Values.GroupBy(d => d.Args, ReferenceEqualityComparer.Instance).Where(g => g.Count() > 1)
                    .Select(g => g.Key!).ToHashSet(ReferenceEqualityComparer.Instance);
            }
            catch
            {
                stream.Dispose();
                throw;
            }
        }

        public override IReadOnlyDictionary<string, long[]> Shapes { get; }

        public override Tensor Read(string name)
        {
            var d = Take(name);
            if (shared.Contains(d.Args))
            {
                // One pickled tensor under several names (a dict holding the same object twice): read once, copied for each.
                if (!sharedReads.TryGetValue(d.Args, out var first))
                    sharedReads[d.Args] = first = ReadDescriptor(name, d).DetachFromDisposeScope(); // kept until this reader is disposed
                return first.clone();
            }
            return ReadDescriptor(name, d);
        }

        private Tensor ReadDescriptor(string name, Descriptor d)
        {
            if (d.StorageBytes < 0) return d.ReadWhole(); // a compressed entry: its length is not known before reading it
            using var storage = empty(d.StorageBytes / ElementSize(d.DType), d.DType);
            try { d.Data.ReadExactly(storage.bytes); }
            catch (Exception e) { throw Error(name, e); }
            return storage.as_strided(d.Shape, d.Stride, d.StorageOffset).clone(); // just this tensor's elements
        }

        public override bool TryReadInto(string name, Tensor target)
        {
            var d = tensors[name];
            if (!FitsAsIs(target, d.DType, d.Shape) || d.StorageOffset != 0 || d.StorageBytes != target.NumberOfElements * target.ElementSize
                || !d.Stride.SequenceEqual(target.stride()) || shared.Contains(d.Args))
                return false; // a view into a larger storage (tied weights saved once), or another layout
            Take(name);
            try { d.Data.ReadExactly(target.bytes); }
            catch (Exception e) { throw Error(name, e); }
            return true;
        }

        /// <summary>Each entry's stream is read once, front to back.</summary>
        private Descriptor Take(string name) =>
            read.Add(name) ? tensors[name] : throw new InvalidOperationException($"{Path}: '{name}' was read already");

        private readonly HashSet<string> read = [];
        private readonly HashSet<object> shared = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<object, Tensor> sharedReads = new(ReferenceEqualityComparer.Instance);

        private static long ElementSize(ScalarType dtype)
        {
            using var probe = empty(0, dtype);
            return probe.ElementSize;
        }

        public override void Dispose()
        {
            foreach (var t in sharedReads.Values) t.Dispose();
            foreach (var d in tensors.Values) d.Data.Dispose();
            stream.Dispose();
        }

        /// <summary>PyTorchUnpickler.TensorConstructorArgs: the tensor's storage stream (a zip entry, stored uncompressed by
        /// torch.save; <paramref name="StorageBytes"/> is -1 for a compressed one), dtype, shape, stride and offset.</summary>
        private sealed record Descriptor(object Args, Stream Data, long StorageBytes, ScalarType DType, long[] Shape, long[] Stride, long StorageOffset)
        {
            private static long LengthOf(Stream entry)
            {
                try { return entry.Length; }
                catch (NotSupportedException) { return -1; }
            }

            /// <summary>PyBridge's own reading of the entry (for compressed entries, as TorchSharp.PyBridge's pickler writes them).</summary>
            public Tensor ReadWhole() =>
                Args.GetType().GetMethod("ReadTensorFromStream")?.Invoke(Args, null) as Tensor
                ?? throw new InvalidOperationException("TorchSharp.PyBridge's TensorConstructorArgs has no ReadTensorFromStream (a package update?)");

            public static Descriptor? Of(object? value)
            {
                if (value is null || value is Tensor) return null;
                var type = value.GetType();
                if (type.Name != "TensorConstructorArgs") return null;
                T Get<T>(string property) => type.GetProperty(property, BindingFlags.Public | BindingFlags.Instance)?.GetValue(value) is T v
                    ? v
                    : throw new InvalidOperationException($"TorchSharp.PyBridge's {type.Name}.{property} is not what this reader expects (a package update?)");
                var data = Get<Stream>("Data");
                return new Descriptor(value, data, LengthOf(data), Get<ScalarType>("DType"), Get<long[]>("Shape"),
                    Get<long[]>("Stride"), Get<int>("StorageOffset"));
            }
        }
    }

    private sealed class MemoryReader(string path, IReadOnlyDictionary<string, Tensor> tensors) : WeightReader(path)
    {
        public override IReadOnlyDictionary<string, long[]> Shapes { get; } = WeightSource.ShapesOf(tensors);

        public override Tensor Read(string name) => tensors[name].alias();

        public override bool TryReadInto(string name, Tensor target) => false;

        public override void Dispose() { }
    }
}
