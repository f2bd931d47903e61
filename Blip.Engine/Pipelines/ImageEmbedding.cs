using static TorchSharp.torch;

namespace Blip.Engine.Pipelines;

/// <summary>An image encoded once, to be scored against many texts: the vision states (for ITM) and the normalised
/// ITC feature. Owns its tensors; dispose when done.</summary>
public sealed class ImageEmbedding : IDisposable
{
    internal ImageEmbedding(string image, Tensor states, Tensor feature)
    {
        Image = image;
        States = states;
        Feature = feature;
    }

    /// <summary>The image's name (path).</summary>
    public string Image { get; }

    /// <summary>Vision last hidden state [1,S,C].</summary>
    public Tensor States { get; }

    /// <summary>normalize(vision_proj(states[:,0])) [E].</summary>
    public Tensor Feature { get; }

    /// <inheritdoc/>
    public void Dispose()
    {
        States.Dispose();
        Feature.Dispose();
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> naming the image once disposed (libtorch would report an
    /// empty handle).</summary>
    internal void ThrowIfDisposed()
    {
        if (States.IsInvalid || Feature.IsInvalid)
            throw new ObjectDisposedException(nameof(ImageEmbedding), $"The embedding of image '{Image}' was disposed.");
    }
}

/// <summary>Texts encoded once (without the image), to be scored against many images: normalised ITC features.</summary>
public sealed class TextEmbeddings : IDisposable
{
    internal TextEmbeddings(IReadOnlyList<string> texts, Tensor features)
    {
        Texts = texts;
        Features = features;
    }

    /// <summary>The texts, in order.</summary>
    public IReadOnlyList<string> Texts { get; }

    /// <summary>normalize(text_proj(text_encoder(text)[:,0])) [N,E].</summary>
    public Tensor Features { get; }

    /// <inheritdoc/>
    public void Dispose() => Features.Dispose();

    /// <summary>Throws <see cref="ObjectDisposedException"/> once disposed.</summary>
    internal void ThrowIfDisposed()
    {
        if (Features.IsInvalid)
            throw new ObjectDisposedException(nameof(TextEmbeddings), $"The embeddings of {Texts.Count} texts were disposed.");
    }
}
