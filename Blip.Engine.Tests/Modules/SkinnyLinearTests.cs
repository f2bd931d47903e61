using System.Collections.Concurrent;
using System.Runtime.Intrinsics;
using Blip.Engine.Modules;
using Blip.Engine.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Tests.Modules;

/// <summary>The hand-written few-row linear kernel against libtorch's <c>linear</c> (the end-to-end parity tests
/// compare the decoders that use it with transformers).</summary>
/// <remarks>Runs with the kernel forced on (Always), so the kernel itself is tested on every machine, whichever way
/// Auto decides here.</remarks>
[NonParallelizable]  // sets SkinnyLinear.Policy
public class SkinnyLinearTests() : KernelPolicyFixture("Always")
{
    [Test]
    public void A_step_keeps_libtorchs_threads_on_the_openmp_team_and_takes_one_thread_beside_the_spinning_team()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var hidden = zeros([1, 1, 768]);
        Assert.That(SkinnyLinear.Covers(hidden), Is.True, "policy Always: the kernel takes a one-row float32 step");
        int before = get_num_threads();
        using (SkinnyLinear.StepThreads(hidden, encoderStates: null))
            Assert.That(get_num_threads(), Is.EqualTo(OpenMpTeam.IsAvailable ? before : 1),
                $"libgomp {(OpenMpTeam.IsAvailable ? "found: the kernel shares libtorch's threads" : "not found: the kernel runs on SpinningTeam")}");
        Assert.That(get_num_threads(), Is.EqualTo(before), "restored after the step");
    }

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
        foreach (bool in256Bits in (bool[])[false, true]) MatchesLibtorchLinear(rows, inFeatures, outFeatures, in256Bits);
    }

    private static void MatchesLibtorchLinear(int rows, int inFeatures, int outFeatures, bool in256Bits)
    {
        using var width = new SumWidth(in256Bits);
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

    [TestCase(1, 768, 768)]
    [TestCase(3, 768, 3072)]
    [TestCase(16, 37, 5)]
    [TestCase(5, 13, 9)]
    [TestCase(7, 3072, 768)]
    [TestCase(1, 768, 30524)]  // the LM head's shape
    public void BFloat16_is_the_float32_sum_rounded_once(int rows, int inFeatures, int outFeatures)
    {
        foreach (bool in256Bits in (bool[])[false, true]) BFloat16IsTheFloat32SumRoundedOnce(rows, inFeatures, outFeatures, in256Bits);
    }

    private static void BFloat16IsTheFloat32SumRoundedOnce(int rows, int inFeatures, int outFeatures, bool in256Bits)
    {
        using var width = new SumWidth(in256Bits);
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var generator = new torch.Generator(99);
        var input = randn([1, rows, inFeatures], generator: generator).to(ScalarType.BFloat16);
        var weight = randn([outFeatures, inFeatures], generator: generator).mul(0.05).to(ScalarType.BFloat16);
        var bias = randn([outFeatures], generator: generator).to(ScalarType.BFloat16);
        Assert.That(SkinnyLinear.Applies(input, weight, bias), Is.True, "the kernel should take bfloat16");
        var actual = SkinnyLinear.Forward(input, weight, bias);
        Assert.That(actual.dtype, Is.EqualTo(ScalarType.BFloat16), "output dtype");
        // The same bf16 values widened (exactly) to float32, summed by libtorch and rounded once: another summation
        // order can move a value across a rounding boundary, one bf16 step (2^-7 relative) at most.
        var exact = nn.functional.linear(input.to(ScalarType.Float32), weight.to(ScalarType.Float32), bias.to(ScalarType.Float32));
        double sumError = 2e-6 * Math.Sqrt(inFeatures);
        TensorAssert.AllClose(exact.to(ScalarType.BFloat16), actual, atol: sumError, rtol: 1.0 / 128, what: "bf16 with bias");
        TensorAssert.AllClose(exact, actual, atol: sumError, rtol: 1.0 / 256, what: "bf16 against the unrounded sum");
        var noBias = nn.functional.linear(input.to(ScalarType.Float32), weight.to(ScalarType.Float32));
        TensorAssert.AllClose(noBias, SkinnyLinear.Forward(input, weight, null), atol: sumError, rtol: 1.0 / 256, what: "bf16 without bias");
        // libtorch's own bfloat16 linear without bias rounds the same sums once. (With a bias it rounds the product to
        // bfloat16 before adding the bias and rounds again, which loses more near cancellations; the kernel adds the
        // bias to the float32 sum.)
        TensorAssert.AllClose(nn.functional.linear(input, weight), SkinnyLinear.Forward(input, weight, null), atol: sumError, rtol: 1.0 / 128, what: "libtorch bf16 without bias");
    }

    [Test]
    public void BFloat16_rounding_equals_libtorch()
    {
        using var scope = NewDisposeScope();
        var special = new[]
        {
            0f, -0f, 1f, -1f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.MaxValue, float.MinValue,
            float.Epsilon, -float.Epsilon, 1e-40f, 3.3895314e38f,
            BitConverter.UInt32BitsToSingle(0x3F808000), // 1 + 2^-8: a tie, rounds to even (down)
            BitConverter.UInt32BitsToSingle(0x3F818000), // a tie that rounds up
            BitConverter.UInt32BitsToSingle(0x3F808001), // just above a tie
            BitConverter.UInt32BitsToSingle(0x7F7FFFFF), // rounds to infinity
        };
        var random = randn(20000, generator: new torch.Generator(5)).mul(exp(randn(20000, generator: new torch.Generator(6)).mul(20))).data<float>().ToArray();
        var values = special.Concat(random).ToArray();
        var rounded = tensor(values).to(ScalarType.BFloat16).contiguous();
        var bits = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(rounded.bytes).ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            ushort mine = BFloat16Element.Narrow(values[i]);
            bool bothNaN = float.IsNaN(values[i]) && (bits[i] & 0x7F80) == 0x7F80 && (bits[i] & 0x7F) != 0 && (mine & 0x7F) != 0;
            Assert.That(bothNaN || mine == bits[i], Is.True, $"value {values[i]:R} (bits 0x{BitConverter.SingleToUInt32Bits(values[i]):X8}): libtorch 0x{bits[i]:X4}, kernel 0x{mine:X4}");
        }
        var widened = rounded.to(ScalarType.Float32).data<float>().ToArray();
        for (int i = 0; i < values.Length; i++)
            Assert.That(BFloat16Element.Widen(bits[i]), Is.EqualTo(widened[i]), $"widening 0x{bits[i]:X4}");
    }

    [TestCase(1, 768, 3072)]   // the decoder's FFN expansion
    [TestCase(3, 768, 3072)]
    [TestCase(5, 13, 21)]      // 21 outputs: two vectors of 8 and a scalar tail of 5
    [TestCase(1, 16, 3)]       // one chunk, only the tail
    public void Gelu_epilogue_matches_libtorchs_gelu_of_the_linear(int rows, int inFeatures, int outFeatures)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var generator = new torch.Generator(31);
        var layer = nn.Linear(inFeatures, outFeatures);
        using (no_grad())
        {
            layer.weight!.copy_(randn([outFeatures, inFeatures], generator: generator).mul(2.0 / Math.Sqrt(inFeatures)));
            layer.bias!.copy_(randn([outFeatures], generator: generator));
        }

        var input = randn([1, rows, inFeatures], generator: generator);
        Assert.That(SkinnyLinear.Applies(input, layer.weight!, layer.bias), Is.True, "the kernel should take this shape");
        // Against libtorch's gelu of the kernel's own linear: only the GELU differs (libtorch's 1 + erf cancels for
        // x < 0, to ~1e-7·|x| absolute; see GeluMath).
        var expected = nn.functional.gelu(SkinnyLinear.Forward(layer, input));
        TensorAssert.AllClose(expected, SkinnyLinear.ForwardGelu(layer, input), atol: 1.5e-6, rtol: 2e-6, what: "float32 gelu epilogue");
        TensorAssert.AllClose(nn.functional.gelu(nn.functional.linear(input, layer.weight!, layer.bias)),
            SkinnyLinear.ForwardGelu(layer, input), atol: 2e-5 * Math.Sqrt(inFeatures), what: "against libtorch alone");

        // bfloat16: the same computation on the linear's rounded outputs, then one rounding; the two GELUs can fall on
        // either side of a rounding boundary, one bf16 step (at most 2^-7 relative) apart.
        layer.to(ScalarType.BFloat16);
        var narrow = input.to(ScalarType.BFloat16);
        var expected16 = nn.functional.gelu(SkinnyLinear.Forward(layer, narrow));
        var actual16 = SkinnyLinear.ForwardGelu(layer, narrow);
        Assert.That(actual16.dtype, Is.EqualTo(ScalarType.BFloat16), "output dtype");
        TensorAssert.AllClose(expected16, actual16, atol: 1e-6, rtol: 1.0 / 128, what: "bf16 gelu epilogue");
        // Where x > 0 both are accurate and round alike; for x < 0 libtorch's 1 + erf cancels (GeluMath's header), and
        // a few percent of those tiny outputs round the other way.
        var positive = expected16.gt(0);  // libtorch gives −0 below x ≈ −5.7, where GeluMath still has ~1e-8
        long differ = expected16.ne(actual16).logical_and(positive).sum().item<long>();
        long count = positive.sum().item<long>();
        Assert.That(differ, Is.LessThanOrEqualTo(Math.Max(1, count / 100)), $"bf16 outputs > 0 other than libtorch's gelu: {differ} of {count}");
    }

    [Test]
    public void Gelu_epilogue_leaves_to_libtorch_what_the_kernel_cannot_do()
    {
        using var scope = NewDisposeScope();
        var layer = nn.Linear(16, 8);
        var output = SkinnyLinear.ForwardGelu(layer, randn(2, 16));
        output.sum().backward();
        Assert.That(layer.weight!.grad, Is.Not.Null, "the training path must record the linear and the gelu");
        using var noGrad = no_grad();
        var many = randn(17, 16);
        Assert.That(SkinnyLinear.Applies(many, layer.weight!, layer.bias), Is.False, "more rows than MaxRows");
        TensorAssert.Equal(nn.functional.gelu(nn.functional.linear(many, layer.weight!, layer.bias)), SkinnyLinear.ForwardGelu(layer, many),
            what: "libtorch's linear and gelu");
    }

    [Test]
    public void Gelu_math_is_libtorchs_gelu_within_its_own_distance_from_erf()
    {
        using var scope = NewDisposeScope();
        var x = linspace(-8, 8, 16001);
        var expected = nn.functional.gelu(x).data<float>().ToArray();
        var values = x.data<float>().ToArray();
        double worst = 0;
        int at = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float actual = GeluMath.Exact(Vector256.Create(values[i])).ToScalar();
            double error = Math.Abs(actual - expected[i]);
            if (error > worst) (worst, at) = (error, i);
        }

        Assert.Multiple(() =>
        {
            Assert.That(worst, Is.LessThanOrEqualTo(1.5e-6), $"worst |Δ| {worst:G3} at x = {values[at]}");
            Assert.That(float.IsNaN(GeluMath.Exact(Vector256.Create(float.NaN)).ToScalar()), "NaN stays NaN");
            Assert.That(GeluMath.Exact(Vector256.Create(float.PositiveInfinity)).ToScalar(), Is.EqualTo(float.PositiveInfinity));
            Assert.That(GeluMath.Exact(Vector256.Create(-20f)).ToScalar(), Is.EqualTo(0f).Within(1e-30), "far left: 0");
        });
    }

    [Test]
    public void Grouped_linears_equal_each_linear_alone()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var generator = new torch.Generator(5);
        Linear Make(int o, int i)
        {
            var layer = nn.Linear(i, o);
            using (no_grad())
            {
                layer.weight!.copy_(randn([o, i], generator: generator));
                layer.bias!.copy_(randn([o], generator: generator));
            }

            return layer;
        }

        // A large projection split into chunks, a small one run as one chunk, one without bias.
        Linear[] layers = [Make(768, 768), Make(7, 768), Make(300, 768)];
        using (no_grad()) layers[2].bias = null;
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            foreach (var layer in layers) layer.to(dtype);
            var input = randn([1, 3, 768], generator: generator).to(dtype);
            var outputs = SkinnyLinear.Forward(layers, input);
            Assert.That(outputs, Has.Length.EqualTo(3));
            for (int i = 0; i < layers.Length; i++)
                TensorAssert.Equal(SkinnyLinear.Forward(layers[i], input), outputs[i], what: $"{dtype} layer {i} in the group");
        }

        // Where the kernel does not apply (a different width), each layer goes its own way.
        var other = Make(5, 16);
        var narrowInput = randn([2, 16], generator: generator);
        var single = SkinnyLinear.Forward([other], narrowInput);
        TensorAssert.AllClose(nn.functional.linear(narrowInput, other.weight!, other.bias), single[0], 1e-5, what: "group of one");
        Assert.That(() => SkinnyLinear.Forward([other, layers[0]], narrowInput), Throws.Exception,
            "a width mismatch gets libtorch's error, not a wrong answer");
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
                Assert.That(SkinnyLinear.Applies(randn(2, 16, dtype: ScalarType.BFloat16), weight, null), Is.False, "bf16 input, fp32 weight");
                Assert.That(SkinnyLinear.Applies(small, weight.to(ScalarType.BFloat16), null), Is.False, "fp32 input, bf16 weight");
                Assert.That(SkinnyLinear.Applies(randn(2, 16, dtype: ScalarType.Float16), weight.to(ScalarType.Float16), null), Is.False, "float16");
                Assert.That(SkinnyLinear.Applies(small, randn(16, 8).t(), null), Is.False, "transposed weight");
                Assert.That(SkinnyLinear.Applies(randn(2, 15), weight, null), Is.False, "width mismatch: libtorch reports it");
            }
        });
        // The fallback gives libtorch's own error for a mismatch.
        using var noGrad = no_grad();
        Assert.That(() => SkinnyLinear.Forward(randn(2, 15), weight, null), Throws.Exception);
    }

    [Test]
    public void Policy_decides_per_dtype()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var x = randn(1, 16);
        var w = randn(8, 16);
        SkinnyLinear.Policy = SkinnyLinearPolicy.Never;
        Assert.That(SkinnyLinear.Applies(x, w, null) || SkinnyLinear.Covers(x), Is.False, "Never: libtorch only");
        SkinnyLinear.Policy = SkinnyLinearPolicy.Auto;
        Assert.Multiple(() =>
        {
            Assert.That(SkinnyLinear.PreferredFor(ScalarType.Float32, 3), Is.EqualTo(!CpuFeatures.IsIntel), "float32: the kernel except where MKL's gemv is fast (Intel)");
            Assert.That(SkinnyLinear.PreferredFor(ScalarType.BFloat16, 1), Is.True, "bfloat16, one row: the kernel");
            Assert.That(SkinnyLinear.PreferredFor(ScalarType.BFloat16, 3), Is.EqualTo(!CpuFeatures.HasAvx512BFloat16 || !CpuFeatures.IsIntel),
                "bfloat16, beams: the kernel except with AVX512-BF16 on Intel");
            Assert.That(SkinnyLinear.PreferredFor(ScalarType.BFloat16, 8), Is.EqualTo(!CpuFeatures.HasAvx512BFloat16),
                "bfloat16, a batch of 8: the kernel only without AVX512-BF16");
            Assert.That(SkinnyLinear.PreferredFor(ScalarType.Float16, 1), Is.False, "float16 is never the kernel's");
            Assert.That(SkinnyLinear.Applies(x, w, null), Is.EqualTo(SkinnyLinear.PreferredFor(ScalarType.Float32, 1)), "Applies follows the policy");
            Assert.That(SkinnyLinear.Covers(x), Is.EqualTo(SkinnyLinear.PreferredFor(ScalarType.Float32, 1)), "Covers follows the policy");
            var bf = randn(1, 1, 16).to(ScalarType.BFloat16);
            Assert.That(SkinnyLinear.Applies(bf, w.to(ScalarType.BFloat16), null), Is.True, "bfloat16 one row");
        });
        // Whatever the route, the result is the linear.
        TensorAssert.AllClose(nn.functional.linear(x, w), SkinnyLinear.Forward(x, w, null), 1e-4, what: "auto");
    }

    [TestCase(null, "Auto")]
    [TestCase("", "Auto")]
    [TestCase("auto", "Auto")]
    [TestCase("0", "Never")]
    [TestCase(" 1 ", "Always")]
    public void Policy_is_read_from_the_environment_value(string? value, string expected) =>
        Assert.That(SkinnyLinearPolicies.Parse(value).ToString(), Is.EqualTo(expected));

    [TestCase(null, null)]
    [TestCase("auto", null)]
    [TestCase("1", true)]
    [TestCase(" 0", false)]
    public void Packed_steps_and_l2_prefetch_switches_are_read_from_the_environment_value(string? value, bool? expected) =>
        Assert.Multiple(() =>
        {
            Assert.That(SkinnyLinear.ParseOverride(value, "BLIP_PACKED_STEPS"), Is.EqualTo(expected));
            Assert.That(SkinnyLinear.ParseOverride(value, "BLIP_L2_PREFETCH"), Is.EqualTo(expected));
        });

    [TestCase("BLIP_PACKED_STEPS")]
    [TestCase("BLIP_L2_PREFETCH")]
    public void Unknown_switch_value_names_the_variable(string variable) =>
        Assert.That(() => SkinnyLinear.ParseOverride("on", variable), Throws.ArgumentException.With.Message.Contains(variable).And.Message.Contains("'on'"));

    [Test]
    public void Unknown_policy_value_names_the_variable() =>
        Assert.That(() => SkinnyLinearPolicies.Parse("yes"), Throws.ArgumentException.With.Message.Contains("BLIP_SKINNY_LINEAR").And.Message.Contains("'yes'"));

    [Test]
    public void Cpu_vendor_and_family_are_the_ones_the_kernels_report()
    {
        Assert.That(File.Exists("/proc/cpuinfo") && System.Runtime.Intrinsics.X86.X86Base.IsSupported, Is.True, "this test reads /proc/cpuinfo: it needs Linux on x86");
        var info = File.ReadAllLines("/proc/cpuinfo");
        string vendor = info.First(l => l.StartsWith("vendor_id", StringComparison.Ordinal)).Split(':')[1].Trim();
        bool bf16 = info.First(l => l.StartsWith("flags", StringComparison.Ordinal)).Split(':')[1].Split(' ').Contains("avx512_bf16");
        int family = int.Parse(info.First(l => l.StartsWith("cpu family", StringComparison.Ordinal)).Split(':')[1].Trim(),
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.Multiple(() =>
        {
            Assert.That(CpuFeatures.Vendor(), Is.EqualTo(vendor), "CPUID vendor against /proc/cpuinfo");
            Assert.That(CpuFeatures.HasAvx512BFloat16, Is.EqualTo(bf16), "AVX512-BF16 against /proc/cpuinfo flags");
            Assert.That(CpuFeatures.Family(), Is.EqualTo(family), "CPUID display family against /proc/cpuinfo's cpu family");
            Assert.That(CpuFeatures.IsAmd, Is.EqualTo(vendor == "AuthenticAMD"), "AMD");
            Assert.That(CpuFeatures.IsAmdZen4, Is.EqualTo(vendor == "AuthenticAMD" && family == 25 && System.Runtime.Intrinsics.X86.Avx512F.IsSupported),
                "Zen 4: AMD family 19h with AVX-512");
            Assert.That(CpuFeatures.IsAmdZen5OrLater, Is.EqualTo(vendor == "AuthenticAMD" && family >= 26), "Zen 5 or later: AMD family 1Ah on");
        });
    }

    [Test]
    public void Sum_width_and_prefetch_follow_what_was_measured_per_cpu()
    {
        var saved = (SkinnyLinear.WideOverride, SkinnyLinear.L2PrefetchOverride);
        try
        {
            SkinnyLinear.WideOverride = null;
            SkinnyLinear.L2PrefetchOverride = null;
            bool amd512 = SkinnyLinear.WideSupported && CpuFeatures.IsAmd;
            string cpu = $"this CPU: {CpuFeatures.Vendor()} family {CpuFeatures.Family():X}h, 512-bit sums supported {SkinnyLinear.WideSupported}";
            Assert.Multiple(() =>
            {
                Assert.That(SkinnyLinear.WideFor(1), Is.EqualTo(amd512 && CpuFeatures.IsAmdZen5OrLater), $"one row: AMD Zen 5 on ({cpu})");
                Assert.That(SkinnyLinear.WideFor(3), Is.EqualTo(amd512), $"three rows: AMD with AVX-512, Zen 4 included ({cpu})");
                Assert.That(SkinnyLinear.WideFor(8), Is.EqualTo(amd512), $"eight rows ({cpu})");
            });
            int zen4None = CpuFeatures.IsAmdZen4 ? 0 : 2;
            Assert.Multiple(() =>
            {
                Assert.That(SkinnyLinear.PrefetchFor(bfloat16: true, 1), Is.EqualTo(zen4None), $"bfloat16, one row: no rows ahead into L1 on Zen 4 only ({cpu})");
                Assert.That(SkinnyLinear.PrefetchFor(bfloat16: false, 3), Is.EqualTo(zen4None), $"float32, beams: no rows ahead into L1 on Zen 4 only ({cpu})");
                Assert.That(SkinnyLinear.PrefetchFor(bfloat16: true, 3), Is.EqualTo(zen4None),
                    $"bfloat16 beams: two weight rows ahead into L1 except on Zen 4, which prefetches into L2 instead ({cpu})");
                Assert.That(SkinnyLinear.L2PrefetchFor(1), Is.Zero, "one row: no L2 prefetch (a greedy caption decoded slower with it)");
                Assert.That(SkinnyLinear.L2PrefetchFor(2), Is.EqualTo(CpuFeatures.IsAmdZen4 ? 8192 : 0), $"two rows: 8 KB ahead into L2 on Zen 4 only ({cpu})");
                Assert.That(SkinnyLinear.L2PrefetchFor(16), Is.EqualTo(SkinnyLinear.L2PrefetchFor(2)), "as many rows as the kernel takes");
            });
            SkinnyLinear.L2PrefetchOverride = false;
            Assert.That(SkinnyLinear.L2PrefetchFor(3), Is.Zero, "L2 prefetch forced off");
            Assert.That(SkinnyLinear.PrefetchFor(bfloat16: true, 3), Is.EqualTo(2), "with the L2 prefetch off, bfloat16 beams fetch two rows ahead into L1 everywhere");
            SkinnyLinear.L2PrefetchOverride = true;
            Assert.That(SkinnyLinear.L2PrefetchFor(3), Is.Positive, "L2 prefetch forced on, on any CPU");
            SkinnyLinear.WideOverride = false;
            Assert.That(SkinnyLinear.WideFor(3), Is.False, "forced to 256 bits");
            SkinnyLinear.WideOverride = true;
            Assert.That(SkinnyLinear.WideFor(1), Is.EqualTo(SkinnyLinear.WideSupported), "forced to 512 bits where the CPU has them");
        }
        finally
        {
            (SkinnyLinear.WideOverride, SkinnyLinear.L2PrefetchOverride) = saved;
        }
    }

    // The L2 prefetch only fetches memory: forced on and off, every block form (2, 3, 4 rows; 5 = 4 + 1; 8 and 16 = blocks
    // of 4; one row, which never prefetches, as the control), both dtypes and sum widths give the same bits, and the linear.
    [Test]
    public void The_l2_prefetch_changes_no_result([Values(ScalarType.Float32, ScalarType.BFloat16)] ScalarType dtype,
        [Values(1, 2, 3, 4, 5, 8, 16)] int rows, [Values] bool in256Bits)
    {
        var saved = SkinnyLinear.L2PrefetchOverride;
        using var width = new SumWidth(in256Bits);
        using var scope = NewDisposeScope();
        var generator = new torch.Generator(11);
        var weight = randn([3072, 776], generator: generator).to(dtype);   // chunked, a row not a multiple of 32 lanes
        var bias = randn([3072], generator: generator).to(dtype);
        var x = randn([rows, 776], generator: generator).to(dtype);
        try
        {
            SkinnyLinear.L2PrefetchOverride = false;
            var without = SkinnyLinear.Forward(x, weight, bias);
            SkinnyLinear.L2PrefetchOverride = true;
            var with = SkinnyLinear.Forward(x, weight, bias);
            Assert.That(SkinnyLinear.Applies(x, weight, bias), Is.True, $"the kernel takes {rows} rows of {dtype} here");
            Assert.That(with.bytes.SequenceEqual(without.bytes), Is.True, $"same bits with and without the L2 prefetch; worst |Δ| {(with - without).abs().max().to(ScalarType.Float32).item<float>():G3}");
            var expected = nn.functional.linear(x.to(ScalarType.Float32), weight.to(ScalarType.Float32), bias.to(ScalarType.Float32));
            TensorAssert.AllClose(expected, with.to(ScalarType.Float32), dtype == ScalarType.Float32 ? 1e-3 : 1e-2, dtype == ScalarType.Float32 ? 0 : 1e-2, what: "the linear");
        }
        finally
        {
            SkinnyLinear.L2PrefetchOverride = saved;
        }
    }

    [Test]
    public void Steps_of_many_rows_take_packed_weights_where_that_was_measured_faster()
    {
        var saved = SkinnyLinear.PackedStepsOverride;
        try
        {
            SkinnyLinear.PackedStepsOverride = null;
            SkinnyLinear.Policy = SkinnyLinearPolicy.Auto;
            bool zen4 = CpuFeatures.IsAmdZen4;
            string cpu = $"this CPU: {CpuFeatures.Vendor()} family {CpuFeatures.Family():X}h, AVX512-BF16 {CpuFeatures.HasAvx512BFloat16}";
            Assert.Multiple(() =>
            {
                Assert.That(SkinnyLinear.PackedFirstFor(ScalarType.Float32, 1), Is.False, $"float32, one row: the kernel ({cpu})");
                Assert.That(SkinnyLinear.PackedFirstFor(ScalarType.Float32, 4), Is.False, $"float32, 4 rows: the kernel ({cpu})");
                Assert.That(SkinnyLinear.PackedFirstFor(ScalarType.Float32, 5), Is.EqualTo(zen4), $"float32, 5 rows: packed on Zen 4 ({cpu})");
                Assert.That(SkinnyLinear.PackedFirstFor(ScalarType.Float32, 8), Is.EqualTo(zen4), $"float32, a batch of 8: packed on Zen 4 ({cpu})");
                Assert.That(SkinnyLinear.PackedFirstFor(ScalarType.BFloat16, 2), Is.False, $"bfloat16, 2 rows: the kernel ({cpu})");
                Assert.That(SkinnyLinear.PackedFirstFor(ScalarType.BFloat16, 3), Is.False, $"bfloat16, 3 beams: the kernel, with its L2 prefetch on Zen 4 ({cpu})");
                Assert.That(SkinnyLinear.PackedFirstFor(ScalarType.BFloat16, 4), Is.EqualTo(zen4 && CpuFeatures.HasAvx512BFloat16),
                    $"bfloat16, 4 rows: packed on Zen 4 with AVX512-BF16 ({cpu})");
                Assert.That(SkinnyLinear.PackedFirstFor(ScalarType.Float16, 8), Is.False, "float16 is never packed for steps");
                Assert.That(SkinnyLinear.StepPackOnUse, Is.GreaterThan(Blip.Engine.Generation.GenerationOptions.DefaultNewTokens),
                    "one caption of the default length never packs its step weights (packing costs what one batch gains)");
            });
            SkinnyLinear.Policy = SkinnyLinearPolicy.Always;
            Assert.That(SkinnyLinear.PackedFirstFor(ScalarType.Float32, 8), Is.False, "Always (BLIP_SKINNY_LINEAR=1) is the kernel's");
            SkinnyLinear.PackedStepsOverride = true;
            Assert.That(SkinnyLinear.PackedFirstFor(ScalarType.Float32, 1), Is.True, "forced on, one row");
            Assert.That(SkinnyLinear.PackedFirstFor(ScalarType.BFloat16, 1), Is.EqualTo(CpuFeatures.HasAvx512BFloat16),
                "forced on, bfloat16 packs only with AVX512-BF16");
            SkinnyLinear.PackedStepsOverride = false;
            Assert.That(SkinnyLinear.PackedFirstFor(ScalarType.Float32, 8), Is.False, "forced off");
        }
        finally
        {
            SkinnyLinear.PackedStepsOverride = saved;
        }
    }

    // The route forced on, a decoder's weights as the pipelines load them (float32 memory-mapped, bfloat16 converted at
    // load) and a batch of 8's step: the kernel until a weight is packed on its StepPackOnUse-th use, then its packed copy,
    // in each form (one linear, with the GELU, grouped); libtorch's linear throughout (bfloat16: both sum in float32 and
    // round once, in another order). Afterwards one row through the kernel still reads the weight's values.
    [TestCase(ScalarType.Float32, 1e-5, 0.0)]
    [TestCase(ScalarType.BFloat16, 1e-2, 1e-2)]   // a bfloat16 step (2⁻⁷ apart at 1…2) either way of a near tie
    public void A_packed_weight_takes_the_steps_once_packed_and_gives_the_linear(ScalarType dtype, double tolerance, double relative)
    {
        const string Layer = "text_decoder.bert.encoder.layer.0.";
        var saved = (SkinnyLinear.PackedStepsOverride, OneDnnPackedLinear.Enabled, SkinnyLinear.StepPackOnUse);
        using var scope = NewDisposeScope();
        using var model = dtype == ScalarType.Float32
            ? Blip.Engine.Models.BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), memoryMap: true)
            : Blip.Engine.Models.BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"), dtype: dtype);
        var modules = model.named_modules().ToDictionary(m => m.name, m => m.module);
        Linear Module(string name) => modules.TryGetValue(Layer + name, out var m) && m is Linear linear
            ? linear : throw new AssertionException($"the tiny captioning model has no linear '{Layer + name}'");
        var (ffn, query, key, value) = (Module("intermediate.dense"), Module("attention.self.query"), Module("attention.self.key"), Module("attention.self.value"));
        bool packs = dtype == ScalarType.Float32 || CpuFeatures.HasAvx512BFloat16;
        var x = randn(8, 1, query.weight!.shape[1], generator: new torch.Generator(11)).to(dtype);   // [8 rows, 1 token, C]
        try
        {
            (SkinnyLinear.PackedStepsOverride, OneDnnPackedLinear.Enabled, SkinnyLinear.StepPackOnUse) = (true, true, 4);
            using var inference = inference_mode();
            long start = SkinnyLinear.PackedSteps;
            int on = SkinnyLinear.StepPackOnUse;
            for (int use = 1; use <= on + 1; use++)
            {
                TensorAssert.AllClose(nn.functional.linear(x, ffn.weight!, ffn.bias), SkinnyLinear.Forward(ffn, x), tolerance, relative, $"linear, use {use}");
                TensorAssert.AllClose(nn.functional.gelu(nn.functional.linear(x, ffn.weight!, ffn.bias)), SkinnyLinear.ForwardGelu(ffn, x), tolerance,
                    relative, $"linear and GELU, use {use}");
                var grouped = SkinnyLinear.Forward([query, key, value], x);
                for (int i = 0; i < 3; i++)
                {
                    var layer = new[] { query, key, value }[i];
                    TensorAssert.AllClose(nn.functional.linear(x, layer.weight!, layer.bias), grouped[i], tolerance, relative, $"grouped linear {i}, use {use}");
                }

                bool packed = packs && use >= on;
                Assert.That(OneDnnPackedLinear.IsPacked(query.weight!), Is.EqualTo(packed), $"the query weight is packed on use {on} ({dtype}, use {use})");
                // the FFN's weight twice a use (its uses 2·use − 1 and 2·use), query, key and value once, each packed from
                // its own StepPackOnUse-th use on
                long expected = packs ? Math.Max(0, 2 * use - on + 1) + 3L * Math.Max(0, use - on + 1) : 0;
                Assert.That(SkinnyLinear.PackedSteps - start, Is.EqualTo(expected), $"linears that took a packed copy ({dtype}, use {use})");
            }

            SkinnyLinear.PackedStepsOverride = false;
            var one = x[..1];
            TensorAssert.AllClose(nn.functional.linear(one, ffn.weight!, ffn.bias), SkinnyLinear.Forward(ffn, one), tolerance,
                relative, "one row through the kernel after packing");
        }
        finally
        {
            (SkinnyLinear.PackedStepsOverride, OneDnnPackedLinear.Enabled, SkinnyLinear.StepPackOnUse) = saved;
        }
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

    // Several threads at once: one owns the spinning team, the others fall back to the thread pool.
    [Test]
    public void Concurrent_callers_all_get_libtorchs_result()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var generator = new torch.Generator(7);
        var weight = randn([3072, 768], generator: generator);  // big enough to be split into chunks
        var bias = randn([3072], generator: generator);
        var inputs = Enumerable.Range(0, 4).Select(_ => randn([1, 2, 768], generator: generator)).ToArray();
        var expected = inputs.Select(x => nn.functional.linear(x, weight, bias)).ToArray();
        var failures = new ConcurrentBag<string>();
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            using var threadScope = NewDisposeScope();
            using var threadInference = inference_mode();
            for (int round = 0; round < 50; round++)
            {
                var actual = SkinnyLinear.Forward(inputs[i], weight, bias);
                double worst = (actual - expected[i]).abs().max().item<float>();
                if (worst > 2e-5 * Math.Sqrt(768)) failures.Add($"caller {i}, round {round}: worst |Δ| {worst:G3}");
                actual.Dispose();
            }
        });
        Assert.That(failures, Is.Empty);
    }
}

/// <summary>For one test: the kernels' 256-bit sums (<paramref name="in256Bits"/>), or their 512-bit sums wherever the
/// CPU can run them (AVX-512; elsewhere 256 bits again), whichever Auto picks here, so both are tested on such a CPU.</summary>
internal sealed class SumWidth : IDisposable
{
    private readonly bool? saved = SkinnyLinear.WideOverride;

    public SumWidth(bool in256Bits)
    {
        SkinnyLinear.WideOverride = !in256Bits && SkinnyLinear.WideSupported;
        TestContext.Out.WriteLine($"sums in {(SkinnyLinear.WideFor(1) ? 512 : 256)}-bit vectors");
    }

    public void Dispose() => SkinnyLinear.WideOverride = saved;
}
