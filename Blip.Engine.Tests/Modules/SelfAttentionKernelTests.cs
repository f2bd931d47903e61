using System.Runtime.Intrinsics;
using Blip.Engine.Modules;
using Blip.Engine.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Tests.Modules;

/// <summary>The hand-written vision self-attention against the reference's formula, softmax(q·kᵀ/√D)·v computed in
/// float64 (transformers' eager BlipAttention); the vision parity tests compare the encoder that uses it with
/// transformers' own outputs.</summary>
/// <remarks>Calls the kernel directly, so it runs on every machine (emulated where AVX-512 is absent).</remarks>
public class SelfAttentionKernelTests
{
    [TestCase(1, 577, 16, 64)]   // ViT-L/16 at 384 px
    [TestCase(2, 577, 4, 8)]     // the tiny checkpoints' vision encoder
    [TestCase(1, 33, 3, 20)]     // keys past a slab of 32, a head narrower than a vector pair with a ragged tail
    [TestCase(3, 5, 2, 64)]      // fewer tokens than a block of 8 rows
    [TestCase(2, 40, 2, 48)]     // 48 = 32 + 16 columns: both weighted-value paths
    [TestCase(1, 1, 1, 1)]
    public void Matches_the_reference_formula(int batch, int tokens, int heads, int headDim)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var mixed = randn([batch, tokens, 3, heads, headDim], generator: new torch.Generator(42));
        var actual = SelfAttentionKernel.Compute(mixed, heads, headDim);
        Assert.That(actual.shape, Is.EqualTo(new long[] { batch, tokens, heads * headDim }));
        // Float32 sums of up to 577 terms in another order than float64's: a few float32 ulps of values below ~4.
        TensorAssert.AllClose(Reference(mixed), actual, atol: 2e-6, what: $"B{batch} S{tokens} H{heads} D{headDim}");
    }

    [Test]
    public void Large_scores_stay_finite_and_exact()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        // Scores up to ~±3,000: exp overflows unless the row maximum is taken out first, and most terms underflow.
        var mixed = randn([1, 100, 3, 2, 16], generator: new torch.Generator(7)) * 30;
        var actual = SelfAttentionKernel.Compute(mixed, 2, 16);
        Assert.That(isfinite(actual).all().item<bool>(), Is.True, "every output finite");
        TensorAssert.AllClose(Reference(mixed), actual, atol: 2e-4, rtol: 1e-5, what: "large scores (values up to ~100)");
    }

    [Test]
    public void A_nan_input_propagates_as_sdpa_does()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var mixed = randn([1, 20, 3, 2, 16], generator: new torch.Generator(3));
        mixed[0, 5, 0, 1, 3] = float.NaN;   // one query element of token 5, head 1
        var actual = SelfAttentionKernel.Compute(mixed, 2, 16).reshape(20, 2, 16);
        Assert.That(isnan(actual[5, 1]).all().item<bool>(), Is.True, "token 5, head 1: every output NaN");
        Assert.That(isnan(actual).sum().item<long>(), Is.EqualTo(16), "nothing else touched");
        var sdpa = nn.functional.scaled_dot_product_attention(mixed.permute(2, 0, 3, 1, 4)[0], mixed.permute(2, 0, 3, 1, 4)[1], mixed.permute(2, 0, 3, 1, 4)[2]);
        Assert.That(isnan(sdpa).sum().item<long>(), Is.EqualTo(16), "SDPA does the same");
    }

    [Test]
    public void Exp_is_within_two_ulps_over_the_softmax_range()
    {
        double worst = 0, worstAt = 0;
        var x = new float[Vector512<float>.Count];
        for (int i = 0; i <= 87_000; i += Vector512<float>.Count)
        {
            for (int lane = 0; lane < x.Length; lane++) x[lane] = -(i + lane) / 1000f;   // 0 … −87.015
            var got = SelfAttentionKernel.ExpNonPositive(Vector512.Create(x));
            for (int lane = 0; lane < x.Length; lane++)
            {
                double exact = Math.Exp(Math.Max(x[lane], -87.3f));
                double error = Math.Abs(got[lane] - exact) / exact;
                if (error > worst) (worst, worstAt) = (error, x[lane]);
            }
        }

        Assert.That(worst, Is.LessThanOrEqualTo(2.4e-7), $"worst relative error {worst:E2} at x = {worstAt}");
        var below = SelfAttentionKernel.ExpNonPositive(Vector512.Create(-1000f));
        Assert.That(below[0], Is.EqualTo(MathF.Exp(-87.3f)).Within(1e-44f), "inputs below −87.3 are taken as −87.3");
    }

    [Test]
    public void Refuses_layouts_it_cannot_read_and_leaves_them_to_sdpa()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var mixed = randn([1, 10, 3, 2, 8]);
        var e = Assert.Throws<ArgumentException>(() => SelfAttentionKernel.Compute(mixed, 4, 4));
        Assert.That(e!.Message, Does.Contain("[B,S,3,4,4]").And.Contain("[1,10,3,2,8]"));
        bool widens = SelfAttentionKernel.WidensBFloat16;
        try
        {
            SelfAttentionKernel.WidensBFloat16 = false;
            Assert.That(SelfAttentionKernel.TryForward(mixed.to(ScalarType.BFloat16), 2, 8), Is.Null, "bfloat16 not widened keeps SDPA");
        }
        finally
        {
            SelfAttentionKernel.WidensBFloat16 = widens;
        }

        Assert.That(SelfAttentionKernel.TryForward(mixed.transpose(1, 2).contiguous().transpose(1, 2), 2, 8), Is.Null, "a strided view keeps SDPA");
        Assert.That(SelfAttentionKernel.TryForward(mixed.reshape(1, 10, 48), 2, 8), Is.Null, "[B,S,3C] is not the kernel's layout");
        using (enable_grad())
        {
            var trained = randn([1, 10, 3, 2, 8], requires_grad: true);
            Assert.That(SelfAttentionKernel.TryForward(trained, 2, 8), Is.Null, "autograd keeps SDPA");
        }
    }

    [Test]
    [NonParallelizable]  // sets WidensBFloat16, RequireAcceleration and Enabled
    public void Bfloat16_is_widened_and_rounded_once()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var mixed = randn([2, 577, 3, 4, 16], generator: new torch.Generator(7)).to(ScalarType.BFloat16);
        var (widens, require, enabled) = (SelfAttentionKernel.WidensBFloat16, SelfAttentionKernel.RequireAcceleration, SelfAttentionKernel.Enabled);
        try
        {
            SelfAttentionKernel.Enabled = true;   // whatever BLIP_ATTENTION_KERNEL says for this process
            SelfAttentionKernel.WidensBFloat16 = true;
            SelfAttentionKernel.RequireAcceleration = false;
            var actual = SelfAttentionKernel.TryForward(mixed, 4, 16);
            Assert.That(actual, Is.Not.Null, $"libgomp: {OpenMpTeam.LibraryPath ?? "not found"}");
            Assert.That(actual!.dtype, Is.EqualTo(ScalarType.BFloat16));
            // The float64 formula on the exactly widened inputs, against a result rounded to bfloat16 once.
            double worst = TensorAssert.AllClose(Reference(mixed.to(ScalarType.Float32)), actual.to(ScalarType.Float32), atol: 1e-6, rtol: 1.0 / 128, what: "bfloat16 context");
            TestContext.Out.WriteLine($"worst |Δ| against the float64 formula: {worst:G3}");
        }
        finally
        {
            (SelfAttentionKernel.WidensBFloat16, SelfAttentionKernel.RequireAcceleration, SelfAttentionKernel.Enabled) = (widens, require, enabled);
        }
    }

    [Test]
    public void Applies_on_avx512_linux_machines()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var mixed = randn([1, 10, 3, 2, 8]);
        bool expected = SelfAttentionKernel.Enabled && Vector512.IsHardwareAccelerated && OperatingSystem.IsLinux();
        Assert.That(SelfAttentionKernel.Applies(mixed, 2, 8), Is.EqualTo(expected),
            $"enabled: {SelfAttentionKernel.Enabled}, Vector512 accelerated: {Vector512.IsHardwareAccelerated}, libgomp: {OpenMpTeam.LibraryPath ?? "not found"}");
    }

    [Test]
    public void Environment_switch_accepts_only_0_and_1()
    {
        Assert.That(SelfAttentionKernel.Parse(null), Is.True);
        Assert.That(SelfAttentionKernel.Parse(" 1 "), Is.True);
        Assert.That(SelfAttentionKernel.Parse("0"), Is.False);
        var e = Assert.Throws<ArgumentException>(() => SelfAttentionKernel.Parse("yes"));
        Assert.That(e!.Message, Does.Contain("BLIP_ATTENTION_KERNEL").And.Contain("yes"));
    }

    // softmax(q·kᵀ/√D)·v in float64, as transformers' eager attention writes it: [B,S,3,H,D] → [B,S,H·D].
    private static Tensor Reference(Tensor mixed)
    {
        long batch = mixed.shape[0], tokens = mixed.shape[1], heads = mixed.shape[3], dim = mixed.shape[4];
        var perHead = mixed.to(ScalarType.Float64).permute(2, 0, 3, 1, 4);                     // [3,B,H,S,D]
        var scores = matmul(perHead[0], perHead[1].transpose(-1, -2)) / Math.Sqrt(dim);        // [B,H,S,S]
        var context = matmul(scores.softmax(-1), perHead[2]);                                   // [B,H,S,D]
        return context.transpose(1, 2).reshape(batch, tokens, heads * dim).to(ScalarType.Float32);
    }
}
