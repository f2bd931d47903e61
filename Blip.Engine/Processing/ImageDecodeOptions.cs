namespace Blip.Engine.Processing;

/// <summary>Options of <see cref="ImageDecoder"/>.</summary>
public sealed record ImageDecodeOptions
{
    /// <summary>The default limit: 100 megapixels.</summary>
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>The defaults: 100-megapixel limit, EXIF orientation not applied (as transformers).</summary>
    public static ImageDecodeOptions Default { get; } = new();

    /// <summary>
    /// Images whose header claims more than this many pixels (width·height) are refused before
    /// their pixels are decoded. Default <see cref="DefaultMaxPixels"/>.
    /// </summary>
    public long MaxPixels { get; init; } = DefaultMaxPixels;

    /// <summary>
    /// When true, rotate/flip the image as its EXIF orientation says (PIL's
    /// <c>ImageOps.exif_transpose</c>). Default false: transformers' processor does not.
    /// </summary>
    public bool ApplyExifOrientation { get; init; }
}
