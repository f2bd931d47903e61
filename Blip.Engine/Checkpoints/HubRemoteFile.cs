// What a HEAD on a Hub resolve URL says about one file: commit, etag, size and where to GET it.
namespace Blip.Engine.Checkpoints;

/// <summary>The Hub's answer about one file (huggingface_hub's <c>HfFileMetadata</c>, plus "missing").</summary>
/// <param name="Exists">False when the Hub answered <c>EntryNotFound</c>.</param>
/// <param name="Commit">The <c>X-Repo-Commit</c> header (also sent with <c>EntryNotFound</c>), if any.</param>
/// <param name="Etag">The blob id: <c>X-Linked-Etag</c> (LFS sha256) or <c>ETag</c> (git sha1), quotes removed.</param>
/// <param name="Location">Where to download: the redirect target for LFS files, else the resolve URL.</param>
/// <param name="Size">The <c>X-Linked-Size</c> or <c>Content-Length</c> header, if any.</param>
internal sealed record HubRemoteFile(bool Exists, string? Commit, string? Etag, Uri? Location, long? Size);
