// The per-layer caches of a text model for one generation: self K/V grow per step, cross K/V are set once.
namespace Blip.Engine.Modules.Text;

/// <summary>Caches for every layer of a text model; owned and disposed by the caller.</summary>
public sealed class TextDecoderCache : IDisposable
{
    private readonly TextLayerCache[] layers;

    /// <summary>Creates empty caches for <paramref name="numLayers"/> layers.</summary>
    public TextDecoderCache(int numLayers)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(numLayers);
        layers = new TextLayerCache[numLayers];
        for (int i = 0; i < numLayers; i++) layers[i] = new TextLayerCache();
    }

    /// <summary>The layers' caches, in order.</summary>
    public IReadOnlyList<TextLayerCache> Layers => layers;

    /// <summary>Positions already cached (the offset of the next token's position).</summary>
    public long Length => layers[0].Self.Length;

    /// <summary>Reorders the self-attention caches by <paramref name="beamIndex"/>; cross K/V are per image and stay.</summary>
    public void ReorderSelf(TorchSharp.torch.Tensor beamIndex)
    {
        ArgumentNullException.ThrowIfNull(beamIndex);
        // The index is read once for all layers; a layer whose buffers cannot be reordered in place (another device,
        // autograd) takes index_select.
        var rows = TextAttentionCache.ReorderRows(beamIndex);
        foreach (var layer in layers) layer.Self.Reorder(beamIndex, rows);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var layer in layers) layer.Dispose();
    }
}
