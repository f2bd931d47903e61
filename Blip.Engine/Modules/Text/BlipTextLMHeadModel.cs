// transformers' BlipTextLMHeadModel: the causal text decoder ("bert") and its LM head ("cls").
using Blip.Engine.Config;
using Blip.Engine.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>The caption/answer decoder: ids <c>[B,T]</c> → logits <c>[B,T,V]</c>, causal, cross-attending to
/// encoder states.</summary>
public sealed class BlipTextLMHeadModel : nn.Module
{
    private readonly BlipTextModel bert;
    private readonly BlipTextOnlyMLMHead cls;

    /// <summary>Creates the decoder; ties the LM head's weight to the word embeddings when the config says so.</summary>
    public BlipTextLMHeadModel(BlipTextConfig config) : base(nameof(BlipTextLMHeadModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        bert = new BlipTextModel(config);
        cls = new BlipTextOnlyMLMHead(config);
        RegisterComponents();
        TieWeights();
    }

    /// <summary>Makes the LM head's decoder use the word embedding matrix and <c>cls.predictions.bias</c> when the config
    /// ties word embeddings, as transformers ties them (both or neither). Conversions with <c>.to(...)</c> re-tie by
    /// themselves.</summary>
    public void TieWeights()
    {
        if (!Config.TieWordEmbeddings) return;
        cls.Predictions.TieBias();
        cls.Predictions.TieDecoderWeight(bert.Embeddings.WordEmbeddings.Weight);
    }

    /// <inheritdoc/>
    protected override nn.Module _to(Device device, ScalarType dtype, bool non_blocking)
    {
        base._to(device, dtype, non_blocking);
        TieWeights();
        return this;
    }

    /// <inheritdoc/>
    protected override nn.Module _to(DeviceType deviceType, int deviceIndex, bool non_blocking)
    {
        base._to(deviceType, deviceIndex, non_blocking);
        TieWeights();
        return this;
    }

    /// <inheritdoc/>
    protected override nn.Module _to(ScalarType dtype, bool non_blocking)
    {
        base._to(dtype, non_blocking);
        TieWeights();
        return this;
    }

    /// <summary>The configuration this decoder was built from.</summary>
    public BlipTextConfig Config { get; }

    /// <summary>The text model under the head.</summary>
    public BlipTextModel Bert => bert;

    /// <summary>Decodes causally and returns logits [B,T,V], or [B,1,V] for the last position only.</summary>
    /// <param name="inputIds">[B,T] ids; with a cache, only the new ones.</param>
    /// <param name="attentionMask">[B,past+T] padding mask, or null.</param>
    /// <param name="encoderStates">[Bk,S,Ce] states to cross-attend (B a multiple of Bk), or null when cached.</param>
    /// <param name="encoderMask">[Bk,S] padding mask of the encoder states, or null.</param>
    /// <param name="cache">K/V cache owned by the caller, or null.</param>
    /// <param name="lastOnly">Apply the LM head to the last position only (generation).</param>
    /// <param name="positionIds">Explicit positions [B,T], or null.</param>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, Tensor? encoderStates = null, Tensor? encoderMask = null,
        TextDecoderCache? cache = null, bool lastOnly = false, Tensor? positionIds = null)
    {
        using var scope = NewDisposeScope();
        var hidden = bert.Forward(inputIds, attentionMask, causal: true, encoderStates, encoderMask, cache, positionIds); // [B,T,C]
        if (lastOnly) hidden = hidden[.., ^1.., ..];                                                                  // [B,1,C]
        using var threads = SkinnyLinear.StepThreads(hidden, encoderStates: null);  // the head has no other linear
        return cls.forward(hidden).MoveToOuterDisposeScope();                                                          // [B,T,V]
    }

    /// <summary>transformers' LM loss: logits[:, :-1] against labels[:, 1:], mean cross-entropy ignoring -100,
    /// with <paramref name="labelSmoothing"/> (the config's <c>label_smoothing</c> by default).</summary>
    /// <remarks>As torch's cross_entropy: a smoothing of 0 or less smooths nothing, one above 1 is refused.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="labelSmoothing"/> is above 1 or NaN.</exception>
    public static Tensor Loss(Tensor logits, Tensor labels, double labelSmoothing)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(labels);
        if (!(labelSmoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing,
                "label_smoothing (text_config.label_smoothing) must be at most 1.0, as torch's cross_entropy requires");
        using var scope = NewDisposeScope();
        long vocab = logits.size(-1);
        var shifted = logits[.., ..^1, ..].reshape(-1, vocab);        // [B*(T-1),V]
        var targets = labels[.., 1..].reshape(-1).to(logits.device);  // [B*(T-1)]
        return nn.functional.cross_entropy(shifted, targets, label_smoothing: labelSmoothing).MoveToOuterDisposeScope();
    }
}
