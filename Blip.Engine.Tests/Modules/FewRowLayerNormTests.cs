using Blip.Engine.Modules;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Modules;

/// <summary>The hand-written residual add and layer norm of decoding steps against libtorch's add and layer_norm.</summary>
[NonParallelizable]  // sets FewRowLayerNorm.Enabled
public class FewRowLayerNormTests
{
    private bool saved;

    [SetUp]
    public void Save() => (saved, FewRowLayerNorm.Enabled) = (FewRowLayerNorm.Enabled, true);

    [TearDown]
    public void Restore() => FewRowLayerNorm.Enabled = saved;

    [TestCase(new long[] { 1, 1, 768 })]
    [TestCase(new long[] { 3, 1, 768 })]    // beams
    [TestCase(new long[] { 16, 37 })]       // the most rows, an odd width
    public void Equals_libtorchs_add_and_layer_norm(long[] shape)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var generator = new torch.Generator(3);
        long width = shape[^1];
        var norm = nn.LayerNorm(width, 1e-12);
        using (no_grad())
        {
            norm.weight!.copy_(randn([width], generator: generator));
            norm.bias!.copy_(randn([width], generator: generator));
        }

        var x = randn(shape, generator: generator).mul(3).add(1);
        var residual = randn(shape, generator: generator);
        var expected = norm.forward(x + residual);
        var fresh = x.clone();
        var actual = FewRowLayerNorm.AddNormInPlace(norm, 1e-12, fresh, residual);
        Assert.That(ReferenceEquals(actual, fresh), Is.True, "computed in place over the linear's output");
        TensorAssert.AllClose(expected, actual, atol: 2e-6, rtol: 1e-6, what: "float32");

        // bfloat16: the sum rounded as libtorch's add rounds it, then the norm in float and one rounding; another
        // accumulation order can fall on the other side of a rounding boundary, one bf16 step (≤ 2^-7 relative).
        norm.to(ScalarType.BFloat16);
        var x16 = x.to(ScalarType.BFloat16);
        var r16 = residual.to(ScalarType.BFloat16);
        var expected16 = norm.forward(x16 + r16);
        var actual16 = FewRowLayerNorm.AddNormInPlace(norm, 1e-12, x16.clone(), r16);
        TensorAssert.AllClose(expected16, actual16, atol: 1e-6, rtol: 1.0 / 128, what: "bfloat16");
        long differ = expected16.ne(actual16).sum().item<long>();
        Assert.That(differ, Is.LessThanOrEqualTo(Math.Max(1, actual16.numel() / 50)), $"bf16 outputs other than libtorch's: {differ} of {actual16.numel()}");
    }

    [Test]
    public void Without_affine_parameters_it_only_normalises()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var norm = nn.LayerNorm(64, 1e-5, elementwise_affine: false);
        var x = randn(2, 64);
        var residual = randn(2, 64);
        TensorAssert.AllClose(norm.forward(x + residual), FewRowLayerNorm.AddNormInPlace(norm, 1e-5, x.clone(), residual), atol: 2e-6, what: "no γ, β");
    }

    [Test]
    public void Anything_else_is_libtorchs_add_and_layer_norm()
    {
        using var scope = NewDisposeScope();
        var norm = nn.LayerNorm(8, 1e-5);
        Assert.Multiple(() =>
        {
            using (inference_mode())
            {
                foreach (var (what, x, residual) in new (string, Tensor, Tensor)[]
                {
                    ("more rows than MaxRows", randn(17, 8), randn(17, 8)),
                    ("strided input", randn(8, 4).t(), randn(4, 8)),
                    ("a broadcast residual", randn(3, 8), randn(1, 8)),
                    ("float64", randn(2, 8, dtype: ScalarType.Float64), randn(2, 8, dtype: ScalarType.Float64)),
                })
                {
                    var expected = what == "float64" ? null : norm.forward(x + residual);
                    if (expected is null)
                    {
                        Assert.That(() => FewRowLayerNorm.AddNormInPlace(norm, 1e-5, x, residual), Throws.Exception, "libtorch's own dtype error");
                        continue;
                    }

                    var actual = FewRowLayerNorm.AddNormInPlace(norm, 1e-5, x, residual);
                    Assert.That(ReferenceEquals(actual, x), Is.False, $"{what}: a new tensor from libtorch");
                    TensorAssert.Equal(expected, actual, what);
                }
            }

            var tracked = randn(2, 8).requires_grad_(true);
            var output = FewRowLayerNorm.AddNormInPlace(norm, 1e-5, tracked * 1, randn(2, 8));
            output.sum().backward();
            Assert.That(tracked.grad, Is.Not.Null, "autograd records libtorch's ops");
        });
    }
}
