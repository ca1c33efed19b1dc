namespace CaptionService.Training.Tests;

/// <summary>Tests that need torch's process-wide RNG to themselves (exact-resume checks): they run
/// alone, not beside other test classes that draw from it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial (torch RNG)";
}
