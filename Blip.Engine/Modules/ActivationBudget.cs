// How many rows (images, texts) one CPU inference pass may take so that its largest activation stays under 30 MB.
// Why: glibc serves allocations over 32 MB (its largest dynamic mmap threshold) with fresh mmap'd pages every time,
// and first-touching fresh pages costs ~0.85 s per GB on the machine of docs/BENCHMARKS.md (75 MB buffers allocated,
// filled and freed 40 times: 0.95-0.99 s/GB, against 0.11 s/GB refilling one). Under the threshold, freed buffers
// are reused from the heap. Measured there: ViT-L/384 with 8 images in one pass faulted 4.4-6.0 GB per forward, in
// groups of 3 images 0.5-0.6 GB; the text encoder over 1,000 captions at 250 per call 3.4-4.3 GB, at 125 ~0.
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Modules;

/// <summary>The per-pass activation budget of CPU inference (see the file header).</summary>
internal static class ActivationBudget
{
    /// <summary>The largest activation one pass may allocate; tests lower it to exercise the grouped paths.</summary>
    internal static long Bytes { get; set; } = 30L << 20;

    /// <summary>Rows per pass when each row's largest activation is <paramref name="bytesPerRow"/>: at least 1; no
    /// limit (<see cref="long.MaxValue"/>) where gradients are recorded or the tensors are not on the CPU.</summary>
    public static long Rows(long bytesPerRow, Device device)
    {
        if (is_grad_enabled() || device.type != DeviceType.CPU) return long.MaxValue;
        return Math.Max(1, Bytes / Math.Max(1, bytesPerRow));
    }
}
