using Blip.Engine.Modules;
using Blip.Engine.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Tests.Modules;

/// <summary>The float32 linear through oneDNN's 1×1 convolution against libtorch's <c>linear</c> (VisionParityTests,
/// TaskParityTests and TransformersParityTests hold the models that use it to transformers, under Auto and Always).</summary>
[NonParallelizable]  // sets OneDnnLinear.Policy and WidenPolicy
public class OneDnnLinearTests
{
    private (SkinnyLinearPolicy Policy, SkinnyLinearPolicy Widen, long WidenMinRows) saved;

    [SetUp]
    public void Save()
    {
        saved = (OneDnnLinear.Policy, OneDnnLinear.WidenPolicy, OneDnnLinear.WidenMinRows);
        OneDnnLinear.WidenPolicy = SkinnyLinearPolicy.Never;   // the float32 and libtorch routes below, on every CPU
    }

    [TearDown]
    public void Restore() => (OneDnnLinear.Policy, OneDnnLinear.WidenPolicy, OneDnnLinear.WidenMinRows) = saved;

    // A vision layer's shape (one image and two), a batch of texts, rows below MinRows, and odd sizes.
    [TestCase(new long[] { 1, 577, 64 }, 192)]
    [TestCase(new long[] { 2, 577, 64 }, 48)]
    [TestCase(new long[] { 40, 35, 48 }, 96)]
    [TestCase(new long[] { 7, 33 }, 5)]
    [TestCase(new long[] { 1, 1, 768 }, 768)]
    public void Matches_libtorch_linear(long[] shape, int outFeatures)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var generator = new torch.Generator(77);
        var input = randn(shape, generator: generator);
        var weight = randn([outFeatures, shape[^1]], generator: generator);
        var bias = randn([outFeatures], generator: generator);
        OneDnnLinear.Policy = SkinnyLinearPolicy.Always;
        Assert.That(OneDnnLinear.Applies(input, weight, bias), Is.True, "Always takes any float32 CPU linear");
        var actual = OneDnnLinear.Forward(input, weight, bias);
        Assert.That(actual.is_contiguous(), Is.True, "the output is the convolution's channels-last memory, viewed as [..., O]");
        // Sums of n products of N(0,1) values, in another order: rounding grows like sqrt(n)·eps·|terms|.
        double atol = 2e-5 * Math.Sqrt(shape[^1]);
        double worst = TensorAssert.AllClose(nn.functional.linear(input, weight, bias), actual, atol, what: "with bias");
        TensorAssert.AllClose(nn.functional.linear(input, weight), OneDnnLinear.Forward(input, weight, null), atol, what: "without bias");
        TestContext.Out.WriteLine($"worst |Δ| against linear: {worst:G3}");
    }

    [Test]
    public void A_module_in_training_mode_keeps_libtorchs_linear()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var layer = nn.Linear(16, 8);
        var input = randn(40, 16);
        OneDnnLinear.Policy = SkinnyLinearPolicy.Always;
        layer.train();
        // Gradient checkpointing recomputes a block with autograd: both passes must be libtorch's arithmetic, bit for bit.
        TensorAssert.Equal(layer.forward(input), OneDnnLinear.Forward(layer, input), "training mode");
        layer.eval();
        TensorAssert.AllClose(layer.forward(input), OneDnnLinear.Forward(layer, input), atol: 1e-5, what: "eval mode");
    }

    [Test]
    public void A_bfloat16_weight_that_is_not_packed_keeps_libtorchs_linear_bit_for_bit()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        OneDnnLinear.Policy = SkinnyLinearPolicy.Always;
        var input = randn(40, 16).to(ScalarType.BFloat16);
        var weight = randn(8, 16).to(ScalarType.BFloat16);   // made here, not loaded: never a packing candidate
        var bias = randn(8).to(ScalarType.BFloat16);
        for (int use = 1; use <= OneDnnPackedLinear.PackOnUse + 1; use++)
            TensorAssert.AllClose(nn.functional.linear(input, weight, bias), OneDnnLinear.Forward(input, weight, bias), atol: 0, what: $"use {use}");
        Assert.That(OneDnnPackedLinear.IsPacked(weight), Is.False, "only weights registered at load are packed");
    }

    // A vision layer's rows, a batch of texts, and the fewest rows Auto widens.
    [TestCase(new long[] { 1, 577, 64 }, 192)]
    [TestCase(new long[] { 40, 35, 48 }, 96)]
    [TestCase(new long[] { 64, 33 }, 5)]
    public void A_widened_bfloat16_linear_is_the_float32_product_of_the_same_values_rounded_once(long[] shape, int outFeatures)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var generator = new torch.Generator(78);
        var input = randn(shape, generator: generator).to(ScalarType.BFloat16);
        var weight = randn([outFeatures, shape[^1]], generator: generator).to(ScalarType.BFloat16);
        var bias = randn([outFeatures], generator: generator).to(ScalarType.BFloat16);
        OneDnnLinear.Policy = SkinnyLinearPolicy.Never;    // the float32 product is libtorch's, so the two are one computation
        OneDnnLinear.WidenPolicy = SkinnyLinearPolicy.Always;
        var actual = OneDnnLinear.Forward(input, weight, bias);
        var wide = nn.functional.linear(input.to(ScalarType.Float32), weight.to(ScalarType.Float32), bias.to(ScalarType.Float32));
        Assert.That(actual.dtype, Is.EqualTo(ScalarType.BFloat16));
        TensorAssert.Equal(wide.to(ScalarType.BFloat16), actual, "widened, against float32 linear rounded to bfloat16");
        // libtorch's bfloat16 matmul also sums exact products in float32 and rounds once, in another order: a sum that
        // cancels can land one bfloat16 step of its terms' scale (about √I for these N(0,1) values) apart.
        var theirs = nn.functional.linear(input.view(-1, shape[^1]), weight, bias).view(actual.shape).to(ScalarType.Float32);
        double worst = TensorAssert.AllClose(theirs, actual.to(ScalarType.Float32), atol: 4 * Math.Sqrt(shape[^1]) / 128, rtol: 1.0 / 128,
            what: "against libtorch's bfloat16 linear");
        TestContext.Out.WriteLine($"worst |Δ| against libtorch's bfloat16 linear: {worst:G3}");
    }

    [TestCase(ScalarType.BFloat16)]
    [TestCase(ScalarType.Float16)]
    public void A_reduced_precision_linear_of_a_batch_of_sequences_rounds_once_as_its_two_dimensional_form(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var generator = new torch.Generator(79);
        var input = randn([2, 10, 768], generator: generator).to(dtype);
        var weight = randn([768, 768], generator: generator).to(dtype);
        var bias = randn([768], generator: generator).mul(20).to(dtype);
        OneDnnLinear.Policy = SkinnyLinearPolicy.Never;
        var actual = OneDnnLinear.Forward(input, weight, bias);
        Assert.That(actual.shape, Is.EqualTo(new long[] { 2, 10, 768 }));
        // The folded form is libtorch's addmm, which sums and adds the bias before its one rounding.
        TensorAssert.Equal(nn.functional.linear(input.view(20, 768), weight, bias).view(2, 10, 768), actual, "against the 2-D linear");
        var once = nn.functional.linear(input.to(ScalarType.Float32), weight.to(ScalarType.Float32), bias.to(ScalarType.Float32)).to(dtype);
        long off = actual.ne(once).sum().item<long>();
        TestContext.Out.WriteLine($"{off} of {actual.numel()} outputs differ from the float32 sum rounded once " +
                                  $"(libtorch's 3-D linear: {nn.functional.linear(input, weight, bias).ne(once).sum().item<long>()})");
        Assert.That(off, Is.LessThan(actual.numel() / 100), "outputs off the once-rounded sum (summation order alone moves a few)");
    }

    [Test]
    public void Auto_widens_bfloat16_linears_of_many_rows_only_where_bfloat16_products_are_slow()
    {
        using var scope = NewDisposeScope();
        var weight = randn(8, 16).to(ScalarType.BFloat16);
        var bias = randn(8).to(ScalarType.BFloat16);
        OneDnnLinear.Policy = SkinnyLinearPolicy.Never;
        OneDnnLinear.WidenPolicy = SkinnyLinearPolicy.Auto;
        bool slow = System.Runtime.Intrinsics.X86.X86Base.IsSupported
            && (!CpuFeatures.HasAvx512BFloat16 || (CpuFeatures.IsIntel && !CpuFeatures.HasAmxBFloat16));
        Assert.That(OneDnnLinear.WidensBFloat16, Is.EqualTo(slow),
            $"Auto on {CpuFeatures.Vendor()} (AVX512-BF16 {CpuFeatures.HasAvx512BFloat16}, AMX-BF16 {CpuFeatures.HasAmxBFloat16})");
        OneDnnLinear.WidenPolicy = SkinnyLinearPolicy.Always;
        var few = randn(OneDnnLinear.WidenMinRows - 1, 16).to(ScalarType.BFloat16);
        TensorAssert.Equal(nn.functional.linear(few, weight, bias), OneDnnLinear.Forward(few, weight, bias), "fewer rows than WidenMinRows: libtorch's");
        var many = randn(OneDnnLinear.WidenMinRows, 16).to(ScalarType.BFloat16);
        var tracked = weight.clone().requires_grad_(true);
        TensorAssert.Equal(nn.functional.linear(many, tracked, bias).detach(), OneDnnLinear.Forward(many, tracked, bias).detach(), "autograd: libtorch's");
        OneDnnLinear.WidenPolicy = SkinnyLinearPolicy.Never;
        TensorAssert.Equal(nn.functional.linear(many, weight, bias), OneDnnLinear.Forward(many, weight, bias), "policy Never");
    }

    [Test]
    public void Anything_else_is_left_to_libtorch()
    {
        using var scope = NewDisposeScope();
        var input = randn(40, 16);
        var weight = randn(8, 16);
        var bias = randn(8);
        Assert.Multiple(() =>
        {
            OneDnnLinear.Policy = SkinnyLinearPolicy.Always;
            Assert.That(OneDnnLinear.Applies(input.to(ScalarType.BFloat16), weight.to(ScalarType.BFloat16), bias.to(ScalarType.BFloat16)),
                Is.EqualTo(CpuFeatures.HasAvx512BFloat16), "bfloat16: only where the CPU has AVX512-BF16 (for packed weights)");
            Assert.That(OneDnnLinear.Applies(input.to(ScalarType.BFloat16), weight.to(ScalarType.BFloat16), bias), Is.False,
                "a float32 bias with bfloat16 weights");
            Assert.That(OneDnnLinear.Applies(input.to(ScalarType.Float16), weight.to(ScalarType.Float16), bias.to(ScalarType.Float16)), Is.False,
                "float16");
            Assert.That(OneDnnLinear.Applies(input, weight.t().contiguous().t(), bias), Is.False, "a transposed weight");
            Assert.That(OneDnnLinear.Applies(input, weight, randn(4)), Is.False, "a bias of the wrong length");
            Assert.That(OneDnnLinear.Applies(input, weight, bias.to(ScalarType.Float64)), Is.False, "a float64 bias");
            Assert.That(OneDnnLinear.Applies(randn(40, 15), weight, bias), Is.False, "input width differs from the weight's");
            Assert.That(OneDnnLinear.Applies(zeros(0, 16), weight, bias), Is.False, "no rows");
            var tracked = weight.clone().requires_grad_(true);
            Assert.That(OneDnnLinear.Applies(input, tracked, bias), Is.False, "autograd records the weight");
            using (no_grad())
                Assert.That(OneDnnLinear.Applies(input, tracked, bias), Is.True, "the same weight without autograd");
            OneDnnLinear.Policy = SkinnyLinearPolicy.Never;
            Assert.That(OneDnnLinear.Applies(input, weight, bias), Is.False, "policy Never");
            OneDnnLinear.Policy = SkinnyLinearPolicy.Auto;
            Assert.That(OneDnnLinear.Applies(randn(OneDnnLinear.MinRows - 1, 16), weight, bias), Is.False, "Auto: fewer rows than MinRows");
            Assert.That(OneDnnLinear.Applies(randn(OneDnnLinear.MinRows, 16), weight, bias),
                Is.EqualTo(CpuFeatures.Vendor() == "AuthenticAMD" && System.Runtime.Intrinsics.X86.Avx512F.IsSupported),
                $"Auto at MinRows: oneDNN on AMD CPUs with AVX-512 (this one: {CpuFeatures.Vendor()} family " +
                $"{CpuFeatures.Family():X}h, AVX-512 {System.Runtime.Intrinsics.X86.Avx512F.IsSupported})");
        });
        // What it does not take it hands to libtorch unchanged.
        OneDnnLinear.Policy = SkinnyLinearPolicy.Never;
        TensorAssert.Equal(nn.functional.linear(input, weight, bias), OneDnnLinear.Forward(input, weight, bias), "policy Never");
    }
}
