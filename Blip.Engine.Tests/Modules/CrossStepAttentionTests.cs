using Blip.Engine.Modules;
using Blip.Engine.Modules.Text;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Modules;

/// <summary>The hand-written one-token cross-attention against libtorch's SDPA on the same image keys and values (the
/// path every other case takes, and the one BlipTextSelfAttention.CrossAttend folds beams into). End to end,
/// TransformersParityTests and FullSizeParityTests hold the steps that take it to transformers' ids.</summary>
[NonParallelizable]  // sets CrossStepAttention.Policy
public class CrossStepAttentionTests
{
    private const int Heads = 4;
    private const int HeadDim = 16;
    private const int Width = Heads * HeadDim;

    private SkinnyLinearPolicy saved;

    [SetUp]
    public void Save() => saved = CrossStepAttention.Policy;

    [TearDown]
    public void Restore() => CrossStepAttention.Policy = saved;

    // Keys and values as the decoder holds them: the projection [Bk,S,C] viewed as [Bk,H,S,D]. Token counts below and
    // above one range per core, one image or two, one beam or three, with and without an additive mask that hides some
    // tokens of image 0.
    [TestCase(ScalarType.Float32, 1, 1, 577, false)]
    [TestCase(ScalarType.Float32, 2, 3, 37, true)]
    [TestCase(ScalarType.Float32, 1, 5, 3, false)]
    [TestCase(ScalarType.BFloat16, 1, 1, 577, false)]
    [TestCase(ScalarType.BFloat16, 2, 3, 50, true)]
    public void Steps_equal_sdpa_on_the_image_keys(ScalarType dtype, int images, int beams, int tokens, bool masked)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var generator = new torch.Generator(5);
        Tensor Heads4(Tensor projected) => projected.view(images, tokens, Heads, HeadDim).transpose(1, 2);   // [Bk,H,S,D]
        var keys = Heads4(randn([images, tokens, Width], generator: generator).to(dtype));
        var values = Heads4(randn([images, tokens, Width], generator: generator).to(dtype));
        var q = (randn([images * beams, 1, Width], generator: generator) * 2).to(dtype);                    // [B,1,C]
        Tensor? mask = null;
        if (masked)
        {
            var hidden = zeros([images, 1, 1, tokens]);
            hidden[0, 0, 0, TensorIndex.Slice(0, tokens / 2)] = float.MinValue;                              // finfo.min, as AttentionMasks
            mask = hidden.to(dtype);
        }

        CrossStepAttention.Policy = SkinnyLinearPolicy.Always;
        // SDPA per image with its beams as query rows, in float32.
        var folded = q.to(ScalarType.Float32).view(images, beams, Heads, HeadDim).transpose(1, 2);        // [Bk,H,n,D]
        var expected = nn.functional.scaled_dot_product_attention(folded, keys.to(ScalarType.Float32), values.to(ScalarType.Float32),
            mask?.to(ScalarType.Float32)).transpose(1, 2).reshape(images * beams, 1, Width);                // [B,1,C]
        foreach (bool in256Bits in (bool[])[false, true])
        {
            using var width = new SumWidth(in256Bits);
            var actual = CrossStepAttention.TryAttend(q, keys, values, mask, Heads);
            Assert.That(actual, Is.Not.Null, "the kernel should take a one-token step");
            Assert.That(actual!.shape, Is.EqualTo(new long[] { images * beams, 1, Width }));
            // float32: float rounding of another summation order (and of e^x, within ~2 ulp); bfloat16: the float32
            // result rounded once.
            double worst = dtype == ScalarType.Float32
                ? TensorAssert.AllClose(expected, actual, atol: 2e-6, what: "context")
                : TensorAssert.AllClose(expected, actual.to(ScalarType.Float32), atol: 1e-6, rtol: 1.0 / 128, what: "context");
            TestContext.Out.WriteLine($"worst |Δ| against SDPA: {worst:G3}");
        }
    }

    // Head widths that 16 lanes (24) or even 8 (12) do not divide: the weighted values in 256-bit vectors, or in the
    // scalar-tailed sums.
    [TestCase(12)]
    [TestCase(24)]
    public void Odd_head_widths_equal_sdpa(int headDim)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var generator = new torch.Generator(9);
        const int beams = 3, tokens = 41;
        int width = Heads * headDim;
        var keys = randn([1, tokens, width], generator: generator).view(1, tokens, Heads, headDim).transpose(1, 2);    // [1,H,S,D]
        var values = randn([1, tokens, width], generator: generator).view(1, tokens, Heads, headDim).transpose(1, 2);
        var q = randn([beams, 1, width], generator: generator) * 2;                                                   // [n,1,C]
        var expected = nn.functional.scaled_dot_product_attention(q.view(1, beams, Heads, headDim).transpose(1, 2), keys, values)
            .transpose(1, 2).reshape(beams, 1, width);                                                                 // [n,1,C]
        CrossStepAttention.Policy = SkinnyLinearPolicy.Always;
        foreach (bool in256Bits in (bool[])[false, true])
        {
            using var sums = new SumWidth(in256Bits);
            var actual = CrossStepAttention.TryAttend(q, keys, values, null, Heads);
            Assert.That(actual, Is.Not.Null, $"head width {headDim}: the kernel should take a one-token step");
            TensorAssert.AllClose(expected, actual!, atol: 2e-6, what: $"head width {headDim}, {(in256Bits ? 256 : 512)}-bit sums");
        }
    }

    [Test]
    public void Anything_else_is_left_to_sdpa()
    {
        using var scope = NewDisposeScope();
        var projected = randn(2, 7, Width);
        var keys = projected.view(2, 7, Heads, HeadDim).transpose(1, 2);                                   // [2,H,7,D]
        var q = randn(2, 1, Width);
        CrossStepAttention.Policy = SkinnyLinearPolicy.Always;
        Assert.Multiple(() =>
        {
            Assert.That(CrossStepAttention.TryAttend(randn(2, 3, Width), keys, keys, null, Heads), Is.Null, "three new tokens");
            var tracked = randn(2, 1, Width).requires_grad_(true);
            Assert.That(CrossStepAttention.TryAttend(tracked, keys, keys, null, Heads), Is.Null, "autograd records the step");
            Assert.That(CrossStepAttention.TryAttend(q, keys.contiguous(), keys.contiguous(), null, Heads), Is.Null, "keys in another layout");
            Assert.That(CrossStepAttention.TryAttend(q, keys, keys.to(ScalarType.BFloat16), null, Heads), Is.Null, "mixed dtypes");
            var fewer = randn(2, 6, Width).view(2, 6, Heads, HeadDim).transpose(1, 2);                      // [2,H,6,D]
            Assert.That(CrossStepAttention.TryAttend(q, keys, fewer, null, Heads), Is.Null, "values of fewer tokens than the keys");
            Assert.That(CrossStepAttention.TryAttend(randn(3, 1, Width), keys, keys, null, Heads), Is.Null, "three rows for two images");
            Assert.That(CrossStepAttention.TryAttend(q, keys, keys, zeros(2, 1, 1, 5), Heads), Is.Null, "a mask over other tokens");
            Assert.That(CrossStepAttention.TryAttend(q, keys, keys, null, 5), Is.Null, "a width the heads do not divide");
        });
        using (inference_mode())
        {
            Assert.That(CrossStepAttention.TryAttend(q, keys, keys, null, Heads), Is.Not.Null, "a plain step is taken");
            CrossStepAttention.Policy = SkinnyLinearPolicy.Never;
            Assert.That(CrossStepAttention.TryAttend(q, keys, keys, null, Heads), Is.Null, "switched off");
        }
    }

    [Test]
    public void Auto_takes_the_kernel_where_it_was_measured_faster()
    {
        CrossStepAttention.Policy = SkinnyLinearPolicy.Auto;
        bool offIntel = !CpuFeatures.IsIntel;
        Assert.Multiple(() =>
        {
            Assert.That(CrossStepAttention.PreferredFor(ScalarType.BFloat16, 3), Is.EqualTo(offIntel), "bfloat16: off Intel");
            Assert.That(CrossStepAttention.PreferredFor(ScalarType.Float32, 1), Is.EqualTo(offIntel), "one float32 beam: off Intel");
            Assert.That(CrossStepAttention.PreferredFor(ScalarType.Float32, 3), Is.EqualTo(offIntel && SkinnyLinear.WideFor(3)),
                $"float32 beams: where their sums run in 512 bits (here {SkinnyLinear.WideFor(3)})");
        });
    }

    [Test]
    public void The_switch_is_read_as_the_other_kernels_switches()
    {
        Assert.That(SkinnyLinearPolicies.Parse("0", "BLIP_CROSS_STEP_ATTENTION"), Is.EqualTo(SkinnyLinearPolicy.Never));
        Assert.That(() => SkinnyLinearPolicies.Parse("yes", "BLIP_CROSS_STEP_ATTENTION"),
            Throws.ArgumentException.With.Message.Contains("BLIP_CROSS_STEP_ATTENTION"));
    }
}
