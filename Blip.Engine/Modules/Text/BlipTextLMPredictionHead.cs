// transformers' BlipTextLMPredictionHead (part of the text decoder's LM head).
using Blip.Engine.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>transformers' BlipTextLMPredictionHead: transform, then the vocabulary projection <c>[B,T,C] → [B,T,V]</c>.</summary>
/// <remarks>When the config ties word embeddings, <c>decoder.bias</c> is the same tensor as <c>bias</c>, and
/// <c>decoder.weight</c> is tied to the word embeddings by the owner, as transformers ties them; untied, the projection
/// has a weight and bias of its own (and <c>bias</c> is unused, as in transformers).</remarks>
public sealed class BlipTextLMPredictionHead : nn.Module<Tensor, Tensor>
{
    private readonly BlipTextPredictionHeadTransform transform;
    private readonly BlipTextLMDecoder decoder;  // [V,C]
    private readonly Parameter bias;  // [V]

    /// <summary>Creates the head for <paramref name="config"/>.</summary>
    public BlipTextLMPredictionHead(BlipTextConfig config) : base(nameof(BlipTextLMPredictionHead))
    {
        ArgumentNullException.ThrowIfNull(config);
        transform = new BlipTextPredictionHeadTransform(config);
        decoder = new BlipTextLMDecoder(config.HiddenSize, config.VocabSize);
        bias = nn.Parameter(zeros(config.VocabSize));
        RegisterComponents();
        if (config.TieWordEmbeddings) TieBias();
    }

    /// <summary>Makes the vocabulary projection use <paramref name="weight"/> [V,C] (the word embeddings).</summary>
    internal void TieDecoderWeight(Parameter weight) => decoder.TieWeight(weight);

    /// <summary>Makes the vocabulary projection's bias <c>cls.predictions.bias</c> itself.</summary>
    internal void TieBias() => decoder.TieBias(bias);

    /// <inheritdoc/>
    public override Tensor forward(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        return decoder.forward(transform.forward(hidden)).MoveToOuterDisposeScope();
    }
}
