using Blip.Engine.Checkpoints;
using Blip.Engine.Generation;
using Blip.Engine.Modules.Text;
using Blip.Engine.Tests.Generation;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Modules;

/// <summary>The hand-written one-token self-attention and the cache buffers it writes, against libtorch's SDPA on a
/// concatenated cache (the path every other case takes). End to end, TransformersParityTests holds the steps that take
/// it to transformers' ids.</summary>
[NonParallelizable]  // sets CachedStepAttention.Enabled
public class CachedStepAttentionTests
{
    private const int Heads = 4;
    private const int HeadDim = 16;
    private const int Width = Heads * HeadDim;

    private bool saved;

    [SetUp]
    public void Save() => saved = CachedStepAttention.Enabled;

    [TearDown]
    public void Restore() => CachedStepAttention.Enabled = saved;

    // Both paths from the same prompt: a prefill of 3 tokens (SDPA on both), then one-token steps past the buffers'
    // first capacity, with a beam reorder midway and a padding mask that hides position 1 of row 0.
    [TestCase(ScalarType.Float32, 1)]
    [TestCase(ScalarType.Float32, 3)]
    [TestCase(ScalarType.BFloat16, 3)]
    public void Steps_equal_sdpa_over_the_concatenated_cache(ScalarType dtype, int batch)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var generator = new torch.Generator(11);
        using var kernelCache = new TextAttentionCache();
        using var sdpaCache = new TextAttentionCache();
        var prompt = Enumerable.Range(0, 2).Select(_ => randn([batch, Heads, 3, HeadDim], generator: generator).to(dtype)).ToArray();
        kernelCache.Append(prompt[0], prompt[1]);
        sdpaCache.Append(prompt[0], prompt[1]);
        long steps = TextAttentionCache.InitialCapacity + 8;
        double worst = 0;
        for (long step = 0; step < steps; step++)
        {
            using var stepScope = NewDisposeScope();
            var qkv = Enumerable.Range(0, 3).Select(_ => randn([batch, 1, Width], generator: generator).to(dtype)).ToArray();
            long keyLength = kernelCache.Length + 1;
            var allowed = ones([batch, keyLength], dtype: ScalarType.Bool);
            allowed[0, 1] = false;
            var mask = AttentionMasks.SelfAttention(allowed, causal: true, 1, keyLength - 1, dtype, CPU)!;   // [B,1,1,Tk]

            CachedStepAttention.Enabled = true;
            var actual = CachedStepAttention.TryAttend(qkv[0], qkv[1], qkv[2], mask, kernelCache, Heads);
            Assert.That(actual, Is.Not.Null, $"step {step}: the kernel should take a one-token step");
            var (keys, values) = sdpaCache.Append(SplitHeads(qkv[1]), SplitHeads(qkv[2]));
            var expected = nn.functional.scaled_dot_product_attention(SplitHeads(qkv[0]).to(ScalarType.Float32), keys.to(ScalarType.Float32),
                values.to(ScalarType.Float32), mask.to(ScalarType.Float32)).transpose(1, 2).reshape(batch, 1, Width);   // [B,1,C]
            Assert.That(kernelCache.Length, Is.EqualTo(sdpaCache.Length), "one position appended");
            // float32: float rounding of another summation order; bfloat16: the float32 result rounded once.
            worst = Math.Max(worst, dtype == ScalarType.Float32
                ? TensorAssert.AllClose(expected, actual!, atol: 2e-6, what: $"step {step}")
                : TensorAssert.AllClose(expected, actual!.to(ScalarType.Float32), atol: 1e-6, rtol: 1.0 / 128, what: $"step {step}"));
            TensorAssert.Equal(sdpaCache.Keys!, kernelCache.Keys!, what: $"step {step}: cached keys");
            TensorAssert.Equal(sdpaCache.Values!, kernelCache.Values!, what: $"step {step}: cached values");
            if (step == 5 && batch > 1)
            {
                var beams = tensor(Enumerable.Range(0, batch).Select(i => (long)((i + 1) % batch)).ToArray());
                kernelCache.Reorder(beams);
                sdpaCache.Reorder(beams);
            }
        }

        Assert.That(kernelCache.Capacity, Is.GreaterThan(TextAttentionCache.InitialCapacity), "the buffers grew past their first capacity");
        TestContext.Out.WriteLine($"worst |Δ| against SDPA over {steps} steps: {worst:G3}");
    }

    [Test]
    public void Anything_else_is_left_to_sdpa_and_appends_nothing()
    {
        using var scope = NewDisposeScope();
        var q = randn(2, 1, Width);
        using var cache = new TextAttentionCache();
        CachedStepAttention.Enabled = true;
        Assert.Multiple(() =>
        {
            Assert.That(CachedStepAttention.TryAttend(randn(2, 3, Width), randn(2, 3, Width), randn(2, 3, Width), null, cache, Heads), Is.Null, "three new tokens");
            var tracked = randn(2, 1, Width).requires_grad_(true);
            Assert.That(CachedStepAttention.TryAttend(tracked, q, q, null, cache, Heads), Is.Null, "autograd records the step");
            Assert.That(CachedStepAttention.TryAttend(q.to(ScalarType.Float64), q.to(ScalarType.Float64), q.to(ScalarType.Float64), null, cache, Heads), Is.Null, "float64");
            Assert.That(CachedStepAttention.TryAttend(q, q.to(ScalarType.BFloat16), q, null, cache, Heads), Is.Null, "mixed dtypes");
            Assert.That(CachedStepAttention.TryAttend(q, q, q, zeros(2, 1, 1, 5), cache, Heads), Is.Null, "a mask over other positions");
            Assert.That(CachedStepAttention.TryAttend(q, q, q, null, cache, 5), Is.Null, "a width the heads do not divide");
            Assert.That(cache.Length, Is.Zero, "nothing appended by a refusal");
        });
        using (inference_mode())
        {
            Assert.That(CachedStepAttention.TryAttend(q, q, q, null, cache, Heads), Is.Not.Null, "a plain step is taken");
            Assert.That(CachedStepAttention.TryAttend(randn(3, 1, Width), randn(3, 1, Width), randn(3, 1, Width), null, cache, Heads), Is.Null,
                "a cache of two rows does not take three");
            CachedStepAttention.Enabled = false;
            Assert.That(CachedStepAttention.TryAttend(q, q, q, null, cache, Heads), Is.Null, "switched off");
            Assert.That(cache.Length, Is.EqualTo(1));
        }
    }

    [Test]
    public void Recorded_appends_concatenate_so_that_gradients_flow()
    {
        using var scope = NewDisposeScope();
        using var cache = new TextAttentionCache();
        var k0 = randn(1, Heads, 2, HeadDim).requires_grad_(true);
        var k1 = randn(1, Heads, 1, HeadDim).requires_grad_(true);
        cache.Append(k0, k0 * 2);
        var (keys, values) = cache.Append(k1, k1 * 2);
        Assert.That(cache.Capacity, Is.EqualTo(3), "no spare room: each append is a new tensor autograd can keep");
        (keys.sum() + values.sum()).backward();
        Assert.That(k0.grad, Is.Not.Null);
        TensorAssert.Equal(full_like(k1, 3.0f), k1.grad!, what: "d(k + 2k)/dk");
    }

    [Test]
    public void Growth_and_reorder_keep_every_cached_position()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var cache = new TextAttentionCache();
        var all = randn(3, Heads, 70, HeadDim);
        for (long t = 0; t < 70; t += 7) cache.Append(all.narrow(2, t, 7), -all.narrow(2, t, 7));
        Assert.That(cache.Length, Is.EqualTo(70));
        Assert.That(cache.Capacity, Is.GreaterThanOrEqualTo(70));
        TensorAssert.Equal(all, cache.Keys!, what: "keys after growing");
        TensorAssert.Equal(-all, cache.Values!, what: "values after growing");
        Assert.That(() => cache.Append(all.narrow(2, 0, 1), all[..1].narrow(2, 0, 1)), Throws.Exception,
            "values of another batch than the keys are an error, not a broadcast");
        Assert.That(cache.Length, Is.EqualTo(70), "a refused append leaves the cache as it was");
        var order = tensor(new long[] { 2, 2, 0 });
        cache.Reorder(order);
        TensorAssert.Equal(all.index_select(0, order), cache.Keys!, what: "keys after a reorder");
        Assert.That(cache.Length, Is.EqualTo(70));
    }

    // The in-place reorder (moved rows copied through a scratch) against index_select on a copy of the same cache:
    // several reorders between appends, with duplicated, permuted and unchanged rows, in both dtypes.
    [TestCase(ScalarType.Float32, 3)]
    [TestCase(ScalarType.Float32, 6)]
    [TestCase(ScalarType.BFloat16, 4)]
    [TestCase(ScalarType.Float32, 1)]
    public void Reorder_in_place_equals_index_select(ScalarType dtype, int batch)
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        var generator = new torch.Generator(5);
        var random = new Random(3);
        using var inPlace = new TextAttentionCache();
        using var selected = new TextAttentionCache();
        bool savedReorder = TextAttentionCache.ReorderInPlace;
        try
        {
            for (int step = 0; step < 40; step++)
            {
                var k = randn([batch, Heads, step == 0 ? 3 : 1, HeadDim], generator: generator).to(dtype);
                var v = randn([batch, Heads, step == 0 ? 3 : 1, HeadDim], generator: generator).to(dtype);
                inPlace.Append(k, v);
                selected.Append(k, v);
                long[] rows = (step % 4) switch
                {
                    0 => Enumerable.Range(0, batch).Select(b => (long)b).ToArray(),                          // unchanged
                    1 => Enumerable.Range(0, batch).Select(b => (long)(batch - 1 - b)).ToArray(),            // reversed
                    _ => Enumerable.Range(0, batch).Select(_ => (long)random.Next(batch)).ToArray(),         // duplicates
                };
                using var index = tensor(rows);
                nint before = TensorMemory.DataAddress(inPlace.Keys!);
                TextAttentionCache.ReorderInPlace = true;
                inPlace.Reorder(index);
                Assert.That(TensorMemory.DataAddress(inPlace.Keys!), Is.EqualTo(before), $"step {step}: reordered in the same buffer, not a new tensor");
                TextAttentionCache.ReorderInPlace = false;
                selected.Reorder(index);
                TensorAssert.Equal(selected.Keys!, inPlace.Keys!, what: $"step {step}, rows [{string.Join(",", rows)}]: keys");
                TensorAssert.Equal(selected.Values!, inPlace.Values!, what: $"step {step}, rows [{string.Join(",", rows)}]: values");
            }
        }
        finally
        {
            TextAttentionCache.ReorderInPlace = savedReorder;
        }

        Assert.That(inPlace.Capacity, Is.GreaterThan(TextAttentionCache.InitialCapacity), "reordered across a growth of the buffers");
    }

    [Test]
    public void A_reorder_outside_the_rows_is_refused_and_changes_nothing()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var cache = new TextAttentionCache();
        var keys = randn(3, Heads, 4, HeadDim);
        cache.Append(keys, -keys);
        Assert.That(() => cache.Reorder(tensor(new long[] { 0, 3, 1 })),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("row 3 at position 1"));
        Assert.That(() => cache.Reorder(tensor(new long[] { -1, 0, 1 })), Throws.TypeOf<ArgumentOutOfRangeException>());
        TensorAssert.Equal(keys, cache.Keys!, what: "keys after refused reorders");
        cache.Reorder(tensor(new long[] { 1, 0 }));
        TensorAssert.Equal(keys.index_select(0, tensor(new long[] { 1, 0 })), cache.Keys!, what: "fewer rows than the cache: index_select");
        Assert.That(cache.Keys!.size(0), Is.EqualTo(2));
    }

    [Test]
    public void A_decoder_cache_reorders_every_layer_by_one_index()
    {
        using var scope = NewDisposeScope();
        using var inference = inference_mode();
        using var cache = new TextDecoderCache(3);
        var keys = Enumerable.Range(0, 3).Select(_ => randn(3, Heads, 5, HeadDim)).ToArray();
        for (int l = 0; l < 3; l++) cache.Layers[l].Self.Append(keys[l], keys[l] * 2);
        var order = tensor(new long[] { 2, 0, 0 });
        cache.ReorderSelf(order);
        for (int l = 0; l < 3; l++)
        {
            TensorAssert.Equal(keys[l].index_select(0, order), cache.Layers[l].Self.Keys!, what: $"layer {l} keys");
            TensorAssert.Equal((keys[l] * 2).index_select(0, order), cache.Layers[l].Self.Values!, what: $"layer {l} values");
        }

        cache.ReorderSelf(tensor(new[] { 1, 2, 0 }));   // int32: index_select's route, same rows
        TensorAssert.Equal(keys[0].index_select(0, order).index_select(0, tensor(new long[] { 1, 2, 0 })), cache.Layers[0].Self.Keys!, what: "an int32 index");
    }

    // The tiny models' generation cases with and without the kernel: identical ids (transformers' ids are held by
    // TransformersParityTests with the kernel on).
    [TestCaseSource(typeof(GenerationCase), nameof(GenerationCase.All))]
    public void Generation_gives_the_same_ids_with_and_without_it(GenerationCase c)
    {
        ArgumentNullException.ThrowIfNull(c);
        using var scope = NewDisposeScope();
        using var tiny = new TinyFixtures();
        CachedStepAttention.Enabled = true;
        using var on = TransformersParityTests.Run(c, tiny);
        CachedStepAttention.Enabled = false;
        using var off = TransformersParityTests.Run(c, tiny);
        TensorAssert.Equal(off.Sequences, on.Sequences, c.Name);
    }

    private static Tensor SplitHeads(Tensor x) => x.view(x.shape[0], x.shape[1], Heads, HeadDim).transpose(1, 2);  // [B,T,C] → [B,H,T,D]
}
