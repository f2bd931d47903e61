// The LM head's vocabulary projection ("cls.predictions.decoder"), whose weight and bias are tied to the word
// embeddings and to cls.predictions.bias as transformers ties them. Written by hand instead of nn.Linear because
// TorchSharp's Linear disposes a parameter it replaces and converts shared parameters twice on .to(...).
using Blip.Engine.Modules;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Modules.Text;

/// <summary><c>x·weightᵀ + bias</c>, <c>[B,T,C] → [B,T,V]</c>, with parameters that may belong to other modules.</summary>
public sealed class BlipTextLMDecoder : nn.Module<Tensor, Tensor>
{
    private Parameter weight;  // [V,C]
    private Parameter bias;    // [V]
    private bool weightTied;
    private bool biasTied;

    /// <summary>Creates an untied projection of <paramref name="hidden"/> → <paramref name="vocab"/>.</summary>
    public BlipTextLMDecoder(long hidden, long vocab) : base("decoder")
    {
        weight = nn.Parameter(empty(vocab, hidden));
        bias = nn.Parameter(zeros(vocab));
        RegisterComponents();
    }

    /// <summary>The projection matrix [V,C].</summary>
    public Parameter Weight => weight;

    /// <summary>Whether the weight belongs to another module (the word embeddings).</summary>
    internal bool WeightTied => weightTied;

    /// <summary>Whether the bias belongs to another module (<c>cls.predictions.bias</c>).</summary>
    internal bool BiasTied => biasTied;

    /// <summary>Uses <paramref name="shared"/> (owned by another module) as the weight.</summary>
    internal void TieWeight(Parameter shared)
    {
        if (ReferenceEquals(weight, shared)) return;
        if (!weightTied) weight.Dispose();
        weight = shared;
        weightTied = true;
        ConditionallyRegisterParameter("weight", shared);
    }

    /// <summary>Uses <paramref name="shared"/> (owned by another module) as the bias.</summary>
    internal void TieBias(Parameter shared)
    {
        if (ReferenceEquals(bias, shared)) return;
        if (!biasTied) bias.Dispose();
        bias = shared;
        biasTied = true;
        ConditionallyRegisterParameter("bias", shared);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor hidden) => SkinnyLinear.Forward(hidden, weight, bias);

    // Tied parameters are converted by their owners (the parent re-ties after converting); only untied ones here.
    /// <inheritdoc/>
    protected override nn.Module _to(Device device, ScalarType dtype, bool non_blocking) =>
        ConvertOwn(p => p.to(dtype, device, non_blocking: non_blocking));

    /// <inheritdoc/>
    protected override nn.Module _to(DeviceType deviceType, int deviceIndex, bool non_blocking) =>
        ConvertOwn(p => p.to(new Device(deviceType, deviceIndex), non_blocking: non_blocking));

    /// <inheritdoc/>
    protected override nn.Module _to(ScalarType dtype, bool non_blocking) =>
        ConvertOwn(p => p.to(dtype, non_blocking: non_blocking));

    private BlipTextLMDecoder ConvertOwn(Func<Tensor, Tensor> convert)
    {
        if (!weightTied) weight = Replace("weight", weight, convert);
        if (!biasTied) bias = Replace("bias", bias, convert);
        return this;
    }

    private Parameter Replace(string name, Parameter old, Func<Tensor, Tensor> convert)
    {
        using var noGrad = no_grad();
        var converted = new Parameter(convert(old).DetachFromDisposeScope(), old.requires_grad);
        ConditionallyRegisterParameter(name, converted);
        old.Dispose();
        return converted;
    }
}
