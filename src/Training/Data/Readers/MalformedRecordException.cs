namespace CaptionService.Training.Data.Readers;

/// <summary>Thrown inside <see cref="DatasetBuilder.Record"/> for one bad record; the builder adds file and line
/// and either fails or skips the record.</summary>
internal sealed class MalformedRecordException(string problem) : Exception(problem);
