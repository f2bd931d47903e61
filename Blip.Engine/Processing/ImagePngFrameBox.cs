namespace Blip.Engine.Processing;

/// <summary>An APNG fcTL frame's region of the image: offset and size in pixels.</summary>
internal readonly record struct ImagePngFrameBox(int X, int Y, int Width, int Height);
