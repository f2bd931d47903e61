namespace Blip.Engine.Processing;

/// <summary>Options of <see cref="ImageDecoder"/>.</summary>
public sealed record ImageDecodeOptions
{
    /// <summary>The default limit: 100 megapixels.</summary>
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>The defaults: 100-megapixel limit, EXIF orientation not applied (as transformers).</summary>
    public static ImageDecodeOptions Default { get; } = new();

    /// <summary>The largest allowed <see cref="MaxPixels"/>: the decode buffer (4 bytes a pixel) must fit one .NET array.</summary>
    public const long UpperMaxPixels = 0x7FFFFFC7 / 4; // Array.MaxLength / 4 (int.MaxValue / 4 × 4 bytes overflowed it)

    /// <summary>
    /// Images whose header claims more than this many pixels (width·height) are refused before
    /// their pixels are decoded. Default <see cref="DefaultMaxPixels"/>; 1 to <see cref="UpperMaxPixels"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set outside 1..<see cref="UpperMaxPixels"/>.</exception>
    public long MaxPixels
    {
        get => _maxPixels;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(MaxPixels));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, UpperMaxPixels, nameof(MaxPixels));
            _maxPixels = value;
        }
    }

    private readonly long _maxPixels = DefaultMaxPixels;

    /// <summary>The default limit on encoded bytes: 512 MiB (a 100-megapixel RGBA PNG stored uncompressed is 400 MB).</summary>
    public const long DefaultMaxBytes = 512L << 20;

    /// <summary>
    /// Files and streams longer than this many bytes are refused; a stream is read no further than that (a device
    /// such as /dev/zero or a pipe that never ends would otherwise be read until memory runs out). Default
    /// <see cref="DefaultMaxBytes"/>; 1 to <see cref="Array.MaxLength"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set outside 1..<see cref="Array.MaxLength"/>.</exception>
    public long MaxBytes
    {
        get => _maxBytes;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(MaxBytes));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, Array.MaxLength, nameof(MaxBytes));
            _maxBytes = value;
        }
    }

    private readonly long _maxBytes = DefaultMaxBytes;

    /// <summary>
    /// When true, rotate/flip the image as its EXIF orientation says (PIL's
    /// <c>ImageOps.exif_transpose</c>). Default false, as transformers given a PIL image (<c>Image.open(f).convert("RGB")</c>, the
    /// model cards' way); transformers' <c>load_image</c>, which its processors and pipelines use for a path or URL, does apply it.
    /// The orientation is read where Pillow 13's exif_transpose reads it: the EXIF block's IFD0 Orientation (JPEG APP1,
    /// WebP EXIF chunk, PNG eXIf chunk or "Raw profile type exif" text), else the XMP packet's <c>tiff:Orientation</c>
    /// (JPEG APP1, WebP XMP chunk, PNG "XML:com.adobe.xmp" text); GIF, BMP and ICO have none. Where exif_transpose
    /// raises (e.g. an EXIF block that is not TIFF), the decode throws <see cref="ImageDecodeException"/>.
    /// </summary>
    public bool ApplyExifOrientation { get; init; }
}
