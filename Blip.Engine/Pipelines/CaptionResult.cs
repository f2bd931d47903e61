namespace Blip.Engine.Pipelines;

/// <summary>One caption (or answer): the decoded text and the full ids as transformers' <c>generate()</c> returns
/// them (bos and prompt included).</summary>
/// <param name="Image">The image it describes (path or name).</param>
/// <param name="Text">Decoded with special tokens skipped.</param>
/// <param name="TokenIds">The generated sequence, without padding.</param>
public sealed record CaptionResult(string Image, string Text, IReadOnlyList<long> TokenIds);
