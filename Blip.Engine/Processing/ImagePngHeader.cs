namespace Blip.Engine.Processing;

/// <summary>The IHDR fields of a PNG that decide PIL's mode (Skia does not report the bit depth).</summary>
internal readonly record struct ImagePngHeader(int BitDepth, int ColorType)
{
    /// <summary>PNG colour type 0: grayscale (PIL opens 16-bit ones as <c>I;16</c>).</summary>
    public const int Gray = 0;

    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>Reads the IHDR chunk, which the PNG specification places first.</summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out ImagePngHeader header)
    {
        header = default;
        // signature (8), chunk length (4), "IHDR" (4), width (4), height (4), bit depth, colour type
        if (data.Length < 26 || !data[..8].SequenceEqual(Signature) || !data.Slice(12, 4).SequenceEqual("IHDR"u8))
        {
            return false;
        }

        header = new ImagePngHeader(data[24], data[25]);
        return true;
    }
}
