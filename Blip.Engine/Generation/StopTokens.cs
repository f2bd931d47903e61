// The ids generation stops at and pads with.
namespace Blip.Engine.Generation;

/// <summary>End and pad ids of a generation (BLIP: end = [SEP] 102, pad = 0).</summary>
/// <param name="Eos">The id that finishes a sequence.</param>
/// <param name="Pad">The id that fills finished sequences.</param>
public sealed record StopTokens(long Eos, long Pad)
{
    /// <summary>What transformers' beam search fills with: <c>pad_token_id or eos_token_id[0]</c>, so the end id when
    /// pad is 0 (0 is falsy in Python).</summary>
    public long BeamFill => Pad != 0 ? Pad : Eos;
}
