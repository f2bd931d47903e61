namespace Blip.Engine.Pipelines;

/// <summary>How well a text matches an image.</summary>
/// <param name="Image">The image (path or name).</param>
/// <param name="Text">The text.</param>
/// <param name="ItmLogits">The ITM head's two logits [no match, match].</param>
/// <param name="ItmProbability">softmax(ItmLogits)[1].</param>
/// <param name="Cosine">ITC cosine between the projected image and text features.</param>
public sealed record MatchResult(string Image, string Text, IReadOnlyList<float> ItmLogits, float ItmProbability, float Cosine);

/// <summary>A text ranked against an image: ITC cosine for all, ITM probability for the re-scored top k.</summary>
/// <param name="Index">Position in the input list.</param>
/// <param name="Text">The text.</param>
/// <param name="Cosine">ITC cosine.</param>
/// <param name="ItmProbability">ITM match probability, or null when the text was outside the top k.</param>
public sealed record RankedText(int Index, string Text, float Cosine, float? ItmProbability);

/// <summary>An image ranked against a text.</summary>
/// <param name="Index">Position in the input list.</param>
/// <param name="Image">The image's name.</param>
/// <param name="Cosine">ITC cosine.</param>
/// <param name="ItmProbability">ITM match probability, or null when the image was outside the top k.</param>
public sealed record RankedImage(int Index, string Image, float Cosine, float? ItmProbability);
