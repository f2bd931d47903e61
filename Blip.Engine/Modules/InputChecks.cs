// Checks of the tensors a forward is given, so that misuse fails naming the argument instead of deep inside libtorch
// ("convolution_overrideable not implemented", "mat1 and mat2 shapes cannot be multiplied") or with an odd answer.
using static TorchSharp.torch;

namespace Blip.Engine.Modules;

/// <summary>Argument checks shared by the modules' forwards.</summary>
internal static class InputChecks
{
    /// <summary>Throws when <paramref name="input"/> is not on the device of <paramref name="model"/> (a weight, or a
    /// tensor the model made).</summary>
    public static void SameDevice(Tensor input, Tensor model, string name)
    {
        if (input.device_type != model.device_type || input.device_index != model.device_index)
            throw new ArgumentException($"{name} is on {input.device}, the model on {model.device}; move it there with .to(device)", name);
    }

    /// <summary>Throws when the padding mask <paramref name="mask"/> holds a value other than 0 and 1 (transformers
    /// would turn it into a bias that is neither "attend" nor "masked").</summary>
    public static void ZerosAndOnes(Tensor mask, string name)
    {
        if (mask.dtype == ScalarType.Bool || mask.numel() == 0) return;
        using var scope = NewDisposeScope();
        var bad = mask.ne(0).logical_and(mask.ne(1));
        if (bad.any().item<bool>())
            throw new ArgumentException($"{name} must hold only 0 (padding) and 1 (token), found {mask.masked_select(bad)[0].to(ScalarType.Float64).item<double>()}", name);
    }
}
