namespace Blip.Engine.Processing;

/// <summary>
/// Thrown when an image cannot be read or decoded: missing file, empty or truncated data, an
/// unknown format, or dimensions beyond the configured pixel limit. The message names the source.
/// </summary>
public sealed class ImageDecodeException : Exception
{
    /// <summary>Creates the exception with a message that names the source.</summary>
    public ImageDecodeException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    public ImageDecodeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception without a message (prefer the other constructors).</summary>
    public ImageDecodeException()
    {
    }
}
