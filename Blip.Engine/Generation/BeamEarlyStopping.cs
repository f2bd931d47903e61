// transformers' `early_stopping` of beam search: false, true or "never".
namespace Blip.Engine.Generation;

/// <summary>When beam search stops, as transformers' <c>early_stopping</c> (<c>false</c>, <c>true</c>, <c>"never"</c>).</summary>
public enum BeamEarlyStopping
{
    /// <summary><c>early_stopping=False</c> (the default): stop when the best running beam, scored at the current
    /// length, cannot beat the worst finished one.</summary>
    Heuristic,

    /// <summary><c>early_stopping=True</c>: stop as soon as <c>num_beams</c> sequences have finished.</summary>
    WhenBeamsFinished,

    /// <summary><c>early_stopping="never"</c>: the canonical beam search; with a positive length penalty the best
    /// running beam is scored at <c>max_length</c>.</summary>
    Never,
}
