// One progress report of a Hub file download, passed to the caller's IProgress.
namespace Blip.Engine.Checkpoints;

/// <summary>The state of one file download, reported through <see cref="IProgress{T}"/>.</summary>
/// <param name="FileName">The file's path in the repository, e.g. <c>model.safetensors</c>.</param>
/// <param name="BytesReceived">Bytes on disk so far, including those of a resumed partial download.</param>
/// <param name="TotalBytes">The file's size when the Hub announced it, else null.</param>
/// <param name="BytesPerSecond">Average speed of this download session (bytes resumed from disk excluded).</param>
/// <param name="Completed">True on the last report of the file.</param>
public readonly record struct HubDownloadProgress(
    string FileName, long BytesReceived, long? TotalBytes, double BytesPerSecond, bool Completed)
{
    /// <summary>Percent done (0–100), or null when the size is unknown.</summary>
    public double? Percent => TotalBytes is > 0 ? 100.0 * BytesReceived / TotalBytes.Value : null;
}
