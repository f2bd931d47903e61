// Which end of a text padding is added to or truncation removes from (transformers' padding_side/truncation_side).
namespace Blip.Engine.Processing;

/// <summary>An end of a token sequence: transformers' <c>"right"</c> or <c>"left"</c>.</summary>
public enum TextSide
{
    /// <summary>After the text (transformers' default for both padding and truncation).</summary>
    Right,

    /// <summary>Before the text.</summary>
    Left,
}
