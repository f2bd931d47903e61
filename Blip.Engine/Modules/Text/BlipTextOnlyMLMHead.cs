// transformers' BlipTextOnlyMLMHead (part of the text decoder's LM head).
using Blip.Engine.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary>transformers' BlipTextOnlyMLMHead ("cls"): holds <c>predictions</c>.</summary>
public sealed class BlipTextOnlyMLMHead : nn.Module<Tensor, Tensor>
{
    private readonly BlipTextLMPredictionHead predictions;

    /// <summary>Creates the head for <paramref name="config"/>.</summary>
    public BlipTextOnlyMLMHead(BlipTextConfig config) : base(nameof(BlipTextOnlyMLMHead))
    {
        predictions = new BlipTextLMPredictionHead(config);
        RegisterComponents();
    }

    /// <summary>The prediction head.</summary>
    public BlipTextLMPredictionHead Predictions => predictions;

    /// <inheritdoc/>
    public override Tensor forward(Tensor hidden) => predictions.forward(hidden);
}
