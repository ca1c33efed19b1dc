namespace CaptionService.Model.Generation;

/// <summary>
/// Decoding options that cannot be decoded: the request's own mistake, never a failure of the model.
/// Each problem starts with the option's name (<c>temperature must be ...</c>), as
/// <see cref="DecodingOptions.Validate"/> words them.
/// </summary>
public sealed class DecodingOptionsException(IReadOnlyList<string> problems)
    : ArgumentException(string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;

    public DecodingOptionsException(string problem) : this([problem]) { }
}
