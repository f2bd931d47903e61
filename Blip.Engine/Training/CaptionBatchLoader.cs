// Decodes and preprocesses image batches on a background thread, a few batches ahead of the training loop.
using System.Collections.Concurrent;
using Blip.Engine.Processing;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>One batch: preprocessed images and their captions; owns <see cref="PixelValues"/>.</summary>
/// <param name="PixelValues">[B,3,H,W] preprocessed images.</param>
/// <param name="Captions">The B captions.</param>
/// <param name="ImageIds">[B] image ids (same id: same image).</param>
public sealed record CaptionBatch(Tensor PixelValues, IReadOnlyList<string> Captions, long[] ImageIds) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose() => PixelValues.Dispose();
}

/// <summary>Yields batches of <see cref="CaptionExample"/>s in a given order, prepared by a background task so that
/// the model does not wait for image decoding. Enumerate once; dispose to stop the task and free prepared batches.</summary>
public sealed class CaptionBatchLoader : IDisposable
{
    private readonly BlockingCollection<CaptionBatch> queue;
    private readonly CancellationTokenSource cancel = new();
    private readonly Task producer;

    /// <summary>Starts preparing batches of <paramref name="batchSize"/> of <paramref name="examples"/> taken in
    /// <paramref name="order"/> (the last batch may be smaller).</summary>
    /// <param name="examples">The data set.</param>
    /// <param name="order">Indices into <paramref name="examples"/>, in the order to yield them.</param>
    /// <param name="batchSize">Examples per batch.</param>
    /// <param name="processor">Decodes and preprocesses the images.</param>
    /// <param name="prefetch">Batches prepared ahead.</param>
    /// <param name="augment">Seeded source for <see cref="ImageAugmentation.RandomResizedCropAndFlip"/>, or null for none.</param>
    public CaptionBatchLoader(IReadOnlyList<CaptionExample> examples, IReadOnlyList<int> order, int batchSize,
        BlipImageProcessor processor, int prefetch = 2, Random? augment = null)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(order);
        ArgumentNullException.ThrowIfNull(processor);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(prefetch);
        queue = new BlockingCollection<CaptionBatch>(prefetch);
        producer = Task.Run(() => Produce(examples, order, batchSize, processor, augment));
    }

    private void Produce(IReadOnlyList<CaptionExample> examples, IReadOnlyList<int> order, int batchSize, BlipImageProcessor processor, Random? augment)
    {
        try
        {
            for (int start = 0; start < order.Count && !cancel.IsCancellationRequested; start += batchSize)
            {
                var items = Enumerable.Range(start, Math.Min(batchSize, order.Count - start)).Select(i => examples[order[i]]).ToList();
                var pixels = processor.Preprocess(items.Select(x => x.ImagePath)); // [B,3,H,W]
                if (augment is not null)
                    using (var plain = pixels) pixels = ImageAugmentation.RandomResizedCropAndFlip(plain, augment);
                var batch = new CaptionBatch(pixels, items.Select(x => x.Caption).ToList(), items.Select(x => x.ImageId).ToArray());
                try
                {
                    queue.Add(batch, cancel.Token);
                }
                catch (OperationCanceledException)
                {
                    batch.Dispose();
                    return;
                }
            }
        }
        finally
        {
            queue.CompleteAdding();
        }
    }

    /// <summary>The batches, in order; rethrows a loading error (e.g. an unreadable image) where it happened.</summary>
    public IEnumerable<CaptionBatch> Batches()
    {
        foreach (var batch in queue.GetConsumingEnumerable()) yield return batch;
        producer.GetAwaiter().GetResult();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        cancel.Cancel();
        try { producer.Wait(); } catch (AggregateException) { }
        while (queue.TryTake(out var left)) left.Dispose();
        queue.Dispose();
        cancel.Dispose();
    }
}
