namespace Blip.Engine.Processing;

/// <summary>Applies an EXIF orientation (1–8) as PIL's <c>ImageOps.exif_transpose</c> does.</summary>
internal static class ImageOrientation
{
    /// <summary>Returns <paramref name="image"/> turned upright; orientations other than 2–8 return it unchanged.</summary>
    public static RgbImage Apply(RgbImage image, int orientation)
    {
        if (orientation is < 2 or > 8)
        {
            return image;
        }

        int w = image.Width, h = image.Height;
        bool swap = orientation >= 5; // 5–8 transpose the axes
        int ow = swap ? h : w, oh = swap ? w : h;
        var src = image.Pixels.Span;
        var dst = new byte[src.Length];
        for (int y = 0; y < oh; y++)
        {
            for (int x = 0; x < ow; x++)
            {
                var (sx, sy) = Source(orientation, x, y, w, h);
                src.Slice(((sy * w) + sx) * 3, 3).CopyTo(dst.AsSpan(((y * ow) + x) * 3, 3));
            }
        }

        return new RgbImage(ow, oh, dst);
    }

    // For output pixel (x, y), the input pixel it comes from; w, h are the input's size.
    private static (int X, int Y) Source(int orientation, int x, int y, int w, int h) => orientation switch
    {
        2 => (w - 1 - x, y),          // FLIP_LEFT_RIGHT
        3 => (w - 1 - x, h - 1 - y),  // ROTATE_180
        4 => (x, h - 1 - y),          // FLIP_TOP_BOTTOM
        5 => (y, x),                  // TRANSPOSE
        6 => (y, h - 1 - x),          // ROTATE_270 (90° clockwise)
        7 => (w - 1 - y, h - 1 - x),  // TRANSVERSE
        _ => (w - 1 - y, x),          // 8: ROTATE_90 (90° counter-clockwise)
    };
}
