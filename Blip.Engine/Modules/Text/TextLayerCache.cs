// The cache of one text layer: self-attention K/V grow per step, cross-attention K/V are set once.
namespace Blip.Engine.Modules.Text;

/// <summary>The cache of one text layer: its self-attention and (if any) cross-attention K/V.</summary>
public sealed class TextLayerCache : IDisposable
{
    /// <summary>Self-attention keys/values, appended per step.</summary>
    public TextAttentionCache Self { get; } = new();

    /// <summary>Cross-attention keys/values, computed once per image and never copied per beam.</summary>
    public TextAttentionCache Cross { get; } = new();

    /// <inheritdoc/>
    public void Dispose()
    {
        Self.Dispose();
        Cross.Dispose();
    }
}
