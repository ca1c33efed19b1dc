using System.Runtime.CompilerServices;

namespace CaptionService.Model.Generation;

/// <summary>Where <see cref="FaultInjection"/> makes a model fail.</summary>
[Flags]
public enum FaultPoint
{
    /// <summary>Encoding the images of captions joining a batch.</summary>
    Admission = 1,
    /// <summary>A decoding step of the whole batch.</summary>
    Step = 2,
}

/// <summary>
/// A test hook: makes one model fail, the way a native error or an out-of-memory would, whenever an
/// admission or a decoding step involves a caption whose options match a rule. The exception comes
/// from the model for the whole batch, so the batch cannot see which caption caused it; it has to
/// find out (<see cref="DecodingBatch.Step"/>). Nothing calls <see cref="FailWhen"/> outside tests.
/// </summary>
public static class FaultInjection
{
    private sealed record Rule(Func<DecodingOptions, bool> Culprit, FaultPoint Where);

    private static readonly ConditionalWeakTable<Captioner, Rule> Rules = new();

    /// <summary>From now until the result is disposed, <paramref name="model"/> throws at
    /// <paramref name="where"/> whenever a caption matching <paramref name="culprit"/> is involved.</summary>
    public static IDisposable FailWhen(Captioner model, Func<DecodingOptions, bool> culprit, FaultPoint where = FaultPoint.Admission | FaultPoint.Step)
    {
        Rules.AddOrUpdate(model, new Rule(culprit, where));
        return new Removal(model);
    }

    internal static void Check(Captioner model, FaultPoint point, IEnumerable<DecodingGroup> groups)
    {
        if (Rules.TryGetValue(model, out var rule) && rule.Where.HasFlag(point) && groups.Any(g => rule.Culprit(g.Options)))
            throw new InjectedFaultException($"injected fault in the model's {point.ToString().ToLowerInvariant()}");
    }

    private sealed class Removal(Captioner model) : IDisposable
    {
        public void Dispose() => Rules.Remove(model);
    }
}

/// <summary>The failure <see cref="FaultInjection"/> throws.</summary>
public sealed class InjectedFaultException(string message) : Exception(message);
