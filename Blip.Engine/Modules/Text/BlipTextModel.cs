// transformers' BlipTextModel without the pooler (add_pooling_layer=False, as every BLIP task model builds it).
using Blip.Engine.Config;
using Blip.Engine.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>The BERT text model: ids <c>[B,T]</c> → states <c>[B,T,C]</c>, causal or bidirectional per call,
/// with cross-attention to encoder states when given.</summary>
public sealed class BlipTextModel : nn.Module
{
    private readonly BlipTextEmbeddings embeddings;
    private readonly BlipTextEncoder encoder;

    /// <summary>Creates the model for <paramref name="config"/>.</summary>
    public BlipTextModel(BlipTextConfig config) : base(nameof(BlipTextModel))
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        embeddings = new BlipTextEmbeddings(config);
        encoder = new BlipTextEncoder(config);
        RegisterComponents();
    }

    /// <summary>The configuration this model was built from.</summary>
    public BlipTextConfig Config { get; }

    /// <summary>The embeddings (the word matrix is tied to an LM head).</summary>
    public BlipTextEmbeddings Embeddings => embeddings;

    /// <summary>Encodes or decodes <paramref name="inputIds"/> [B,T].</summary>
    /// <param name="inputIds">Token ids [B,T]; with a cache, only the new ones.</param>
    /// <param name="attentionMask">[B,past+T] 1 for tokens, 0 for padding; null means no padding.</param>
    /// <param name="causal">True for the decoder (each token sees only earlier ones).</param>
    /// <param name="encoderStates">Image (or question) states [Bk,S,Ce] for cross-attention, or null.</param>
    /// <param name="encoderMask">[Bk,S] padding mask of the encoder states, or null.</param>
    /// <param name="cache">Per-layer K/V cache owned by the caller, or null.</param>
    /// <param name="positionIds">Explicit positions [B,T]; null means past..past+T-1.</param>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, bool causal = false, Tensor? encoderStates = null,
        Tensor? encoderMask = null, TextDecoderCache? cache = null, Tensor? positionIds = null)
    {
        ArgumentNullException.ThrowIfNull(inputIds);
        if (inputIds.dim() != 2) throw new ArgumentException($"input_ids must be [B,T], got [{string.Join(",", inputIds.shape)}]", nameof(inputIds));
        using var scope = NewDisposeScope();
        long past = cache?.Length ?? 0;
        var hidden = embeddings.Forward(inputIds, past, positionIds);                                   // [B,T,C]
        if (encoderStates is not null)
        {
            if (encoderStates.dim() != 3 || encoderStates.shape[2] != Config.EncoderHiddenSize)
                throw new ArgumentException($"encoder states must be [B,S,{Config.EncoderHiddenSize}] (encoder_hidden_size), got [{string.Join(",", encoderStates.shape)}]", nameof(encoderStates));
            InputChecks.SameDevice(encoderStates, hidden, nameof(encoderStates));
        }
        var selfMask = AttentionMasks.SelfAttention(attentionMask, causal, inputIds.size(1), past, hidden.dtype, hidden.device);
        var crossMask = AttentionMasks.CrossAttention(encoderMask, hidden.dtype, hidden.device);
        // A decoding step (a few rows, image K/V already cached): the linears run in SkinnyLinear's own threads.
        using var threads = SkinnyLinear.StepThreads(hidden, encoderStates);
        return encoder.Forward(hidden, selfMask, encoderStates?.to(hidden.dtype), crossMask, cache).MoveToOuterDisposeScope();
    }
}
