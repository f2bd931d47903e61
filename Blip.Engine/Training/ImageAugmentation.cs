// The original BLIP's training augmentation, minus RandAugment: random resized crop (scale 0.5–1, ratio 3/4–4/3)
// and horizontal flip, applied to preprocessed pixel tensors.
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>Random resized crop and horizontal flip of a batch of preprocessed images.</summary>
/// <remarks>BLIP applies <c>RandomResizedCrop(384, scale=(0.5, 1.0), interpolation=BICUBIC)</c>,
/// <c>RandomHorizontalFlip()</c> and <c>RandomAugment(2, 5)</c> to the PIL image before normalising; this crops the
/// already resized and normalised tensor and resizes the crop back bicubically (torch's, not PIL's), and has no
/// RandAugment. The draws come from the given <see cref="Random"/>, so a seeded run repeats.</remarks>
public static class ImageAugmentation
{
    /// <summary>Returns a new [B,3,H,W] tensor: each image cropped at random and resized back, flipped with p = ½.</summary>
    /// <param name="pixels">[B,3,H,W] preprocessed images.</param>
    /// <param name="rng">The random source (not thread-safe: one per loader).</param>
    public static Tensor RandomResizedCropAndFlip(Tensor pixels, Random rng)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(rng);
        using var scope = NewDisposeScope();
        long height = pixels.shape[2], width = pixels.shape[3];
        var images = new List<Tensor>();
        for (long b = 0; b < pixels.shape[0]; b++)
        {
            var (top, left, h, w) = CropBox(height, width, rng);
            var crop = pixels.narrow(0, b, 1).narrow(2, top, h).narrow(3, left, w);                              // [1,3,h,w]
            var resized = nn.functional.interpolate(crop, [height, width], mode: InterpolationMode.Bicubic, align_corners: false);
            images.Add(rng.NextDouble() < 0.5 ? resized.flip(3) : resized);                                       // [1,3,H,W]
        }
        return cat(images).MoveToOuterDisposeScope();                                                            // [B,3,H,W]
    }

    /// <summary>Advances <paramref name="rng"/> past the draws <see cref="RandomResizedCropAndFlip"/> makes for
    /// <paramref name="images"/> images of <paramref name="height"/>×<paramref name="width"/>, without any image: a run
    /// resumed mid-epoch then augments its remaining images as the uninterrupted run did.</summary>
    internal static void Skip(Random rng, long images, long height, long width)
    {
        ArgumentNullException.ThrowIfNull(rng);
        for (long b = 0; b < images; b++)
        {
            CropBox(height, width, rng);
            rng.NextDouble();
        }
    }

    /// <summary>torchvision's RandomResizedCrop.get_params: 10 tries of area and log-uniform ratio, then the centre.</summary>
    private static (long Top, long Left, long Height, long Width) CropBox(long height, long width, Random rng)
    {
        double area = height * width;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double target = area * (0.5 + 0.5 * rng.NextDouble());
            double ratio = Math.Exp(Math.Log(3.0 / 4) + (Math.Log(4.0 / 3) - Math.Log(3.0 / 4)) * rng.NextDouble());
            long w = (long)Math.Round(Math.Sqrt(target * ratio)), h = (long)Math.Round(Math.Sqrt(target / ratio));
            if (w > 0 && h > 0 && w <= width && h <= height)
                return (rng.NextInt64(0, height - h + 1), rng.NextInt64(0, width - w + 1), h, w);
        }
        return (0, 0, height, width);
    }
}
