// Images → pixel_values [B, 3, H, W] float32, equal to transformers' BlipImageProcessorPil:
// decode + convert("RGB") (ImageDecoder), PIL BICUBIC resize (PillowResample), rescale, normalize.
using System.Runtime.CompilerServices;
using Blip.Engine.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Processing;

/// <summary>Turns images into BLIP's <c>pixel_values</c>, as transformers' PIL image processor does.</summary>
/// <remarks>
/// transformers (<c>image_processing_backends.PilBackend._preprocess</c>, <c>image_transforms.rescale</c>
/// and <c>normalize</c>) resizes the uint8 image with PIL, rescales in float64 and rounds to float32
/// (<c>(x.astype(float64) * scale).astype(float32)</c>), then normalizes in float32 as a separate
/// step (<c>(x - float32(mean)) / float32(std)</c>). The same operations in the same order make the
/// result bit-identical, not just close. <c>do_convert_rgb = false</c> is accepted, but decoded
/// images are always RGB (transformers would fail on a 4-channel image at normalize).
/// </remarks>
public sealed class BlipImageProcessor
{
    /// <summary>Creates a processor.</summary>
    /// <param name="config">Processor settings; <see cref="ImageProcessorConfig.Default"/> when null. Validated here.</param>
    /// <param name="decodeOptions">Decoder settings; <see cref="ImageDecodeOptions.Default"/> when null.</param>
    public BlipImageProcessor(ImageProcessorConfig? config = null, ImageDecodeOptions? decodeOptions = null)
    {
        Config = (config ?? ImageProcessorConfig.Default).Validate(nameof(config));
        DecodeOptions = decodeOptions ?? ImageDecodeOptions.Default;
    }

    /// <summary>The processor settings.</summary>
    public ImageProcessorConfig Config { get; }

    /// <summary>The decoder settings (pixel limit, EXIF orientation).</summary>
    public ImageDecodeOptions DecodeOptions { get; }

    /// <summary>Decodes and preprocesses image files.</summary>
    /// <returns><c>pixel_values</c> [B, 3, H, W] float32 on the CPU; the caller disposes it.</returns>
    /// <exception cref="ImageDecodeException">A file is missing or not a decodable image; the message names it.</exception>
    public Tensor Preprocess(IEnumerable<string> paths)
    {
        ArgumentNullException.ThrowIfNull(paths);
        return Preprocess(paths.Select(p => ImageDecoder.Decode(p, DecodeOptions)).ToList());
    }

    /// <summary>Decodes and preprocesses encoded images held in memory (named "image[i]" in errors).</summary>
    /// <returns><c>pixel_values</c> [B, 3, H, W] float32 on the CPU; the caller disposes it.</returns>
    public Tensor Preprocess(IEnumerable<byte[]> encodedImages)
    {
        ArgumentNullException.ThrowIfNull(encodedImages);
        return Preprocess(encodedImages.Select((b, i) => ImageDecoder.Decode(b, $"image[{i}]", DecodeOptions)).ToList());
    }

    /// <summary>Decodes and preprocesses one encoded image read from <paramref name="stream"/>.</summary>
    /// <returns><c>pixel_values</c> [1, 3, H, W] float32 on the CPU; the caller disposes it.</returns>
    public Tensor Preprocess(Stream stream, string sourceName)
    {
        var image = ImageDecoder.Decode(stream, sourceName, DecodeOptions);
        return Preprocess([image]);
    }

    /// <summary>Preprocesses decoded images.</summary>
    /// <returns><c>pixel_values</c> [B, 3, H, W] float32 on the CPU; the caller disposes it.</returns>
    /// <exception cref="ArgumentException">No images, or (with resizing off) images of different sizes.</exception>
    public Tensor Preprocess(IReadOnlyList<RgbImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0)
        {
            throw new ArgumentException("At least one image is needed.", nameof(images));
        }

        var resized = images.Select(Resize).ToList();
        int h = resized[0].Height, w = resized[0].Width;
        var bad = resized.FindIndex(r => r.Height != h || r.Width != w);
        if (bad >= 0)
        {
            throw new ArgumentException(
                $"images[{bad}] is {resized[bad].Width}x{resized[bad].Height} but images[0] is {w}x{h}; with do_resize off they cannot share a batch.",
                nameof(images));
        }

        // Each image is written straight into its slice of the tensor: no managed copy of the batch, whose
        // B·3·H·W floats pass int.MaxValue (a float[]'s limit) at about 4,900 images of 384².
        var pixelValues = torch.empty([resized.Count, 3, h, w], ScalarType.Float32); // [B, 3, H, W]
        try
        {
            int imageValues = checked(3 * h * w);
            for (int b = 0; b < resized.Count; b++)
            {
                using var slot = pixelValues[b]; // [3, H, W], contiguous
                WritePixelValues(resized[b], ImageSpan(slot, imageValues));
            }
        }
        catch
        {
            pixelValues.Dispose();
            throw;
        }

        return pixelValues;
    }

    private static unsafe Span<float> ImageSpan(Tensor slot, int length) =>
        new((void*)Checkpoints.TensorMemory.DataAddress(slot), length);

    /// <summary>Resizes to the configured size with Pillow's BICUBIC (returns the image itself when <c>do_resize</c> is off or the size already matches).</summary>
    public RgbImage Resize(RgbImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Config.DoResize ? PillowResample.ResizeBicubic(image, Config.Width, Config.Height) : image;
    }

    // HWC uint8 → CHW float32: rescale (float64 product, rounded to float32), then normalize in float32.
    // Fully optimised from the first call: a one-image CLI run never reaches the JIT's optimised tier.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void WritePixelValues(RgbImage image, Span<float> chw)
    {
        var table = new float[3 * 256];
        for (int c = 0; c < 3; c++)
        {
            float mean = (float)Config.ImageMean[c], std = (float)Config.ImageStd[c];
            for (int v = 0; v < 256; v++)
            {
                float x = Config.DoRescale ? (float)(v * Config.RescaleFactor) : v;
                table[(c * 256) + v] = Config.DoNormalize ? (x - mean) / std : x;
            }
        }

        var src = image.Pixels.Span;
        int plane = image.Width * image.Height;
        for (int i = 0; i < plane; i++)
        {
            chw[i] = table[src[3 * i]];
            chw[plane + i] = table[256 + src[(3 * i) + 1]];
            chw[(2 * plane) + i] = table[512 + src[(3 * i) + 2]];
        }
    }
}
