// One blob download into blobs/<etag>.incomplete: resumes with Range, restarts when the server ignores Range,
// times out a stalled read, reports progress, and checks size and (for LFS) the sha256 named by the etag.
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Blip.Engine.Checkpoints;

/// <summary>Downloads one remote file into its <c>.incomplete</c> file and verifies it.</summary>
internal sealed partial class HubBlobDownload(HubHttp http, HubOptions options, string fileName, IProgress<HubDownloadProgress>? progress)
{
    private const int MaxRedirects = 10;
    private readonly Stopwatch _clock = new();
    private long _lastReportMs = -1;

    /// <summary>Downloads <paramref name="remote"/> into <paramref name="incompletePath"/> and verifies it.</summary>
    public async Task RunAsync(HubRemoteFile remote, Uri endpoint, string incompletePath, CancellationToken cancellationToken)
    {
        long resume = File.Exists(incompletePath) ? new FileInfo(incompletePath).Length : 0;
        if (remote.Size is long expected && resume > expected)
        {
            File.Delete(incompletePath);
            resume = 0;
        }
        string actualSha;
        long length;
        bool refused = false;
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        await using (var file = new FileStream(incompletePath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1 << 16, useAsync: true))
        {
            await HashPrefixAsync(file, resume, hash, cancellationToken).ConfigureAwait(false);
            if (remote.Size != resume || remote.Size is null)
                refused = await FetchAsync(remote, endpoint, file, resume, hash, cancellationToken).ConfigureAwait(false);
            length = file.Length;
            actualSha = Convert.ToHexStringLower(hash.GetHashAndReset());
        }
        Verify(remote, incompletePath, length, actualSha, refused);
        progress?.Report(new HubDownloadProgress(fileName, length, remote.Size, Speed(length - resume), Completed: true));
    }

    private static async Task HashPrefixAsync(FileStream file, long resume, IncrementalHash hash, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[1 << 20];
        file.Position = 0;
        int read;
        while (file.Position < resume && (read = await file.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            hash.AppendData(buffer, 0, read);
    }

    /// <summary>GETs the rest of the file into <paramref name="file"/>; true when the server refused the Range (HTTP 416).</summary>
    private async Task<bool> FetchAsync(HubRemoteFile remote, Uri endpoint, FileStream file, long resume, IncrementalHash hash, CancellationToken cancellationToken)
    {
        HttpResponseMessage response = await GetAsync(remote.Location!, endpoint, resume, cancellationToken).ConfigureAwait(false);
        bool refused = response.StatusCode == System.Net.HttpStatusCode.RequestedRangeNotSatisfiable;
        if (refused)
        {
            // The partial is as long as the server's file or longer (a body that ended short, or a size the HEAD did not
            // give): it cannot be resumed, so start over; resuming it again would get 416 for ever.
            response.Dispose();
            response = await GetAsync(remote.Location!, endpoint, 0, cancellationToken).ConfigureAwait(false);
        }
        using (response)
        {
            // Some mirrors honour the Range but answer 200: its Content-Range says the body starts at the offset.
            bool whole = response.StatusCode == System.Net.HttpStatusCode.OK && response.Content.Headers.ContentRange?.From != resume;
            if (resume > 0 && whole)
            {
                // The server ignored Range (or refused it) and sends the whole file: start over (huggingface_hub's http_get does too).
                file.SetLength(0);
                hash.GetHashAndReset();
                resume = 0;
            }
            else if (resume > 0 && response.Content.Headers.ContentRange?.From != resume)
            {
                throw new HubException(HubErrorKind.Other,
                    $"{remote.Location} answered Range 'bytes={resume}-' with Content-Range '{response.Content.Headers.ContentRange}'.");
            }
            file.Position = resume;
            await CopyAsync(response, file, resume, remote, hash, cancellationToken).ConfigureAwait(false);
        }
        return refused;
    }

    /// <summary>GET with redirects followed by hand: the token goes only to the endpoint's host, never to a CDN.</summary>
    private async Task<HttpResponseMessage> GetAsync(Uri location, Uri endpoint, long resume, CancellationToken cancellationToken)
    {
        Uri current = location;
        for (int hop = 0; hop <= MaxRedirects; hop++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, current);
            if (HubHttp.SameOrigin(current, endpoint))
                HubHttp.AddToken(request, options.Token);
            if (resume > 0)
                request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(resume, null);
            // The download's own timeout, as huggingface_hub's http_get (HF_HUB_DOWNLOAD_TIMEOUT), not the metadata one.
            HttpResponseMessage response = await http.SendAsync(request, options.DownloadTimeout, cancellationToken).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            if (status is >= 300 and < 400 && response.Headers.Location is Uri target)
            {
                response.Dispose();
                current = new Uri(current, target);
                continue;
            }
            if (status is 200 or 206 || (status == 416 && resume > 0))
                return response;
            response.Dispose();
            throw new HubException(status is 401 or 403 ? HubErrorKind.AccessDenied : HubErrorKind.Other,
                $"Download of {fileName} failed: HTTP {status} for {current}.");
        }
        throw new HubException(HubErrorKind.Other, $"More than {MaxRedirects} redirects downloading {fileName} from {location}.");
    }

    private async Task CopyAsync(HttpResponseMessage response, FileStream file, long resume, HubRemoteFile remote, IncrementalHash hash, CancellationToken cancellationToken)
    {
        long total = remote.Size ?? (response.Content.Headers.ContentLength is long n ? resume + n : -1);
        long received = resume;
        byte[] buffer = new byte[1 << 16];
        _clock.Start();
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            await using Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            while (true)
            {
                stall.CancelAfter(options.DownloadTimeout);
                int read = await body.ReadAsync(buffer, stall.Token).ConfigureAwait(false);
                if (read == 0)
                    break;
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                hash.AppendData(buffer, 0, read);
                received += read;
                if (remote.Size is long announced && received > announced)
                    break;      // more than the Hub announced: Verify deletes it; reading on could fill the disk
                MaybeReport(received, total >= 0 ? total : null, received - resume);
            }
        }
        catch (Exception e) when (e is IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            await file.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            throw Interrupted(remote, received, e);
        }
    }

    private void MaybeReport(long received, long? total, long sessionBytes)
    {
        long now = _clock.ElapsedMilliseconds;
        if (progress is null || (_lastReportMs >= 0 && now - _lastReportMs < 50))
            return;
        _lastReportMs = now;
        progress.Report(new HubDownloadProgress(fileName, received, total, Speed(sessionBytes), Completed: false));
    }

    private double Speed(long sessionBytes) =>
        _clock.Elapsed.TotalSeconds > 0 ? sessionBytes / _clock.Elapsed.TotalSeconds : 0;

    private HubException Interrupted(HubRemoteFile remote, long received, Exception? cause) =>
        new(HubErrorKind.Interrupted,
            $"Download of {fileName} from {remote.Location} stopped after {received} of {remote.Size?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"} bytes" +
            $"{(cause is null ? "" : $" ({cause.Message})")}; the partial file is kept and the next run resumes it.", cause);

    /// <summary>
    /// Size check (huggingface_hub's consistency check) and, for a 64-hex (LFS) etag, the sha256 check. A file still
    /// short after the server refused its Range and sent it from 0 is deleted: the server has no more bytes to resume.
    /// </summary>
    private void Verify(HubRemoteFile remote, string incompletePath, long length, string actualSha, bool rangeRefused)
    {
        if (remote.Size is long expected && length < expected && rangeRefused)
        {
            File.Delete(incompletePath);
            throw new HubException(HubErrorKind.IntegrityMismatch,
                $"Download of {fileName} from {remote.Location} has only {length} bytes, the Hub announced {expected}: the server " +
                "refused to resume it (HTTP 416) and sent the whole file short; the download was deleted.");
        }
        if (remote.Size is long announced && length < announced)
            throw Interrupted(remote, length, null);
        if (remote.Size is long size && length > size)
        {
            File.Delete(incompletePath);
            throw new HubException(HubErrorKind.IntegrityMismatch,
                $"Download of {fileName} from {remote.Location} has {length} bytes, the Hub announced {size}; the download was deleted.");
        }
        if (IsSha256(remote.Etag!) && !string.Equals(actualSha, remote.Etag, StringComparison.OrdinalIgnoreCase))
        {
            File.Delete(incompletePath);
            throw new HubException(HubErrorKind.IntegrityMismatch,
                $"sha256 mismatch for {fileName} downloaded from {remote.Location}: expected {remote.Etag} " +
                $"(the Hub's etag), got {actualSha}; the corrupt download was deleted, run again to retry.");
        }
    }

    /// <summary>Whether an etag is an LFS sha256 (64 hex digits), the kind whose download can be checked.</summary>
    internal static bool IsSha256(string etag) => Sha256Pattern().IsMatch(etag);

    [GeneratedRegex(@"^[0-9a-fA-F]{64}\z")]
    private static partial Regex Sha256Pattern();
}
