// Gradient checkpointing for TorchSharp, which has none built in: a custom autograd function that runs a block without
// keeping its activations and recomputes it in the backward pass (PyTorch's reentrant torch.utils.checkpoint).
using Blip.Engine.Models;
using Blip.Engine.Modules.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>Recomputes blocks in the backward pass instead of storing their activations.</summary>
/// <remarks>As PyTorch's reentrant checkpoint: the block's parameters get their gradients from an inner backward;
/// the RNG state is restored for the recomputation so dropout masks match. A block whose input needs no gradient runs
/// normally (otherwise its parameters would get none).</remarks>
public static class GradientCheckpoint
{
    /// <summary>Runs <paramref name="block"/> on <paramref name="input"/>, checkpointed when gradients are recorded.</summary>
    public static Tensor Run(Func<Tensor, Tensor> block, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(block);
        ArgumentNullException.ThrowIfNull(input);
        if (!is_grad_enabled() || !input.requires_grad) return block(input);
        return CheckpointFunction.apply(input, block);
    }

    /// <summary>Checkpoints every layer of the vision encoder of <paramref name="model"/> (or stops, with false).</summary>
    public static void EnableForVision(nn.Module model, bool enabled = true)
    {
        var vision = model switch
        {
            BlipForConditionalGeneration c => c.VisionModel,
            BlipForImageTextRetrieval r => r.VisionModel,
            BlipForQuestionAnswering q => q.VisionModel,
            _ => throw new ArgumentException($"no vision model in {model?.GetType().Name}", nameof(model)),
        };
        vision.Encoder.LayerRunner = enabled ? (layer, hidden) => Run(layer.forward, hidden) : null;
    }

    private sealed class CheckpointFunction : autograd.SingleTensorFunction<CheckpointFunction>
    {
        public override string Name => "BlipGradientCheckpoint";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var input = (Tensor)vars[0];
            ctx.save_for_backward([input]);
            ctx.save_data("block", vars[1]);
            ctx.save_data("rng", Generator.Default.get_state().DetachFromDisposeScope()); // outlives the forward's scope
            return ((Func<Tensor, Tensor>)vars[1])(input); // autograd is off here: no activations kept
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var block = (Func<Tensor, Tensor>)ctx.get_data("block");
            using var rng = (Tensor)ctx.get_data("rng");
            using var scope = NewDisposeScope();
            var input = ctx.get_saved_variables()[0];
            using var now = Generator.Default.get_state();
            Generator.Default.set_state(rng);
            Tensor x, y;
            using (enable_grad())
            {
                x = input.detach().requires_grad_(true);
                y = block(x);
            }
            Generator.Default.set_state(now);
            autograd.backward([y], [gradOutput]);
            return [x.grad!.detach().MoveToOuterDisposeScope(), null!]; // one per argument; the block gets none
        }
    }
}
