namespace Blip.Engine.Processing;

/// <summary>
/// A decoded 8-bit RGB image: rows top to bottom, pixels left to right, bytes R, G, B
/// (the layout of <c>np.asarray(pil_image.convert("RGB"))</c>, i.e. HWC uint8).
/// </summary>
public sealed record RgbImage
{
    /// <summary>Wraps <paramref name="pixels"/> (not copied) as a <paramref name="width"/>×<paramref name="height"/> image.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive.</exception>
    /// <exception cref="ArgumentException"><paramref name="pixels"/> does not hold width·height·3 bytes.</exception>
    public RgbImage(int width, int height, ReadOnlyMemory<byte> pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (pixels.Length != (long)width * height * 3)
        {
            throw new ArgumentException(
                $"pixels holds {pixels.Length} bytes; a {width}x{height} RGB image needs {(long)width * height * 3}.",
                nameof(pixels));
        }

        Width = width;
        Height = height;
        Pixels = pixels;
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>The interleaved RGB bytes, <c>Height * Width * 3</c> of them.</summary>
    public ReadOnlyMemory<byte> Pixels { get; }
}
