using Blip.Engine.Modules;
using Blip.Engine.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Tests.Modules;

/// <summary>The hand-written few-row linear kernel against libtorch's <c>linear</c> (the end-to-end parity tests
/// compare the decoders that use it with transformers).</summary>
public class SkinnyLinearTests
{
    [TestCase(1, 768, 768)]
    [TestCase(3, 768, 3072)]
    [TestCase(16, 37, 5)]      // tails: 37 = 32 + 5 inputs, fewer outputs than a vector
    [TestCase(2, 300, 1000)]   // parallel split with a remainder
    [TestCase(1, 7, 3)]
    [TestCase(5, 13, 9)]       // a block of 4 rows, then one; 13 = 8 + 5 inputs
    [TestCase(6, 24, 40)]      // 4 + 2 rows (the block of 2 repeats its last row); 24 = 16 + 8
    [TestCase(7, 768, 3072)]   // 4 + 3 rows at the decoder's shapes
    [TestCase(8, 7, 3)]        // two blocks, inputs shorter than a vector
    public void Matches_libtorch_linear(int rows, int inFeatures, int outFeatures)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var generator = new torch.Generator(1234);
        var input = randn([1, rows, inFeatures], generator: generator);
        var weight = randn([outFeatures, inFeatures], generator: generator);
        var bias = randn([outFeatures], generator: generator);
        Assert.That(SkinnyLinear.Applies(input, weight, bias), Is.True, "the kernel should take this shape");
        var expected = nn.functional.linear(input, weight, bias);
        var actual = SkinnyLinear.Forward(input, weight, bias);
        // Sums of n products of N(0,1) values, in another order: rounding grows like sqrt(n)·eps·|terms|.
        TensorAssert.AllClose(expected, actual, atol: 2e-5 * Math.Sqrt(inFeatures), what: "with bias");
        TensorAssert.AllClose(nn.functional.linear(input, weight), SkinnyLinear.Forward(input, weight, null),
            atol: 2e-5 * Math.Sqrt(inFeatures), what: "without bias");
    }

    [Test]
    public void Non_contiguous_input_is_read_in_logical_order()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var input = randn(64, 3).t();  // [3,64], strided
        var weight = randn(10, 64);
        Assert.That(input.is_contiguous(), Is.False);
        TensorAssert.AllClose(nn.functional.linear(input, weight), SkinnyLinear.Forward(input, weight, null), 1e-4, what: "strided input");
    }

    [Test]
    public void Leaves_to_libtorch_what_it_cannot_do()
    {
        using var scope = NewDisposeScope();
        var weight = randn(8, 16).requires_grad_(true);
        var small = randn(2, 16);
        Assert.Multiple(() =>
        {
            Assert.That(SkinnyLinear.Applies(small, weight, null), Is.False, "autograd needs libtorch's op");
            using (no_grad())
            {
                Assert.That(SkinnyLinear.Applies(small, weight, null), Is.True, "no_grad: nothing to record");
                Assert.That(SkinnyLinear.Applies(randn(17, 16), weight, null), Is.False, "more rows than MaxRows");
                Assert.That(SkinnyLinear.Applies(randn(2, 16, dtype: ScalarType.Float64), weight.to(ScalarType.Float64), null), Is.False, "float64");
                Assert.That(SkinnyLinear.Applies(small, randn(16, 8).t(), null), Is.False, "transposed weight");
                Assert.That(SkinnyLinear.Applies(randn(2, 15), weight, null), Is.False, "width mismatch: libtorch reports it");
            }
        });
        // The fallback gives libtorch's own error for a mismatch.
        using var noGrad = no_grad();
        Assert.That(() => SkinnyLinear.Forward(randn(2, 15), weight, null), Throws.Exception);
    }

    [Test]
    public void Gradients_flow_when_training()
    {
        using var scope = NewDisposeScope();
        var weight = randn(8, 16).requires_grad_(true);
        var output = SkinnyLinear.Forward(randn(2, 16), weight, null);
        output.sum().backward();
        Assert.That(weight.grad, Is.Not.Null, "the training path must record the op");
    }
}
