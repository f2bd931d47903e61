// The Hub's HTTP protocol for one file: a HEAD without redirects for commit/etag/size (following only relative
// redirects, as huggingface_hub's get_hf_file_metadata), and Hub error headers mapped to HubException.
using System.Net;

namespace Blip.Engine.Checkpoints;

/// <summary>Sends the Hub's metadata requests and maps its errors.</summary>
internal sealed class HubHttp : IDisposable
{
    private const int MaxRedirects = 10;
    private readonly HttpClient _client;

    public HubHttp()
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false, // redirects are followed by hand, so the token never leaves the endpoint's host
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(10),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("blip-engine/0.1");
    }

    public HttpClient Client => _client;

    public void Dispose() => _client.Dispose();

    /// <summary>Whether the token may go to <paramref name="url"/>: only to the endpoint's host and port.</summary>
    public static bool SameOrigin(Uri url, Uri endpoint) =>
        string.Equals(url.Host, endpoint.Host, StringComparison.OrdinalIgnoreCase) && url.Port == endpoint.Port;

    /// <summary>HEAD <paramref name="url"/>; relative redirects (renamed repos, resolve-cache) are followed.</summary>
    public async Task<HubRemoteFile> HeadAsync(Uri url, string repoId, HubOptions options, CancellationToken cancellationToken)
    {
        Uri current = url;
        for (int hop = 0; hop <= MaxRedirects; hop++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Head, current);
            request.Headers.AcceptEncoding.ParseAdd("identity"); // so Content-Length is the real size
            AddToken(request, options.Token);
            using HttpResponseMessage response = await SendAsync(request, options.EtagTimeout, cancellationToken).ConfigureAwait(false);
            int status = (int)response.StatusCode;
            Uri? target = response.Headers.Location;
            // Only a redirect within the same host is followed with the token (huggingface_hub: a Location without a
            // netloc); "//host/path" and "\\host" are relative URIs to .NET that resolve to another host.
            if (status is >= 300 and < 400 && target is not null && !target.IsAbsoluteUri && Header(response, "X-Linked-Etag") is null
                && new Uri(current, target) is var next && next.Scheme == current.Scheme && SameOrigin(next, current))
            {
                current = next;
                continue;
            }
            if (status >= 400)
                return MissingOrThrow(response, current, repoId, options);
            Uri location = status is >= 300 and < 400 && target is not null ? new Uri(current, target) : current;
            return new HubRemoteFile(
                true, Header(response, "X-Repo-Commit"), NormalizeEtag(Header(response, "X-Linked-Etag") ?? Header(response, "ETag")),
                location, ParseLong(Header(response, "X-Linked-Size")) ?? response.Content.Headers.ContentLength);
        }
        throw new HubException(HubErrorKind.Other, $"More than {MaxRedirects} redirects from {url}.");
    }

    /// <summary>Sends a request; a refused connection, DNS failure, timeout or 5xx becomes <see cref="HubErrorKind.NetworkUnavailable"/>.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeoutSource.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new HubException(HubErrorKind.NetworkUnavailable, $"No answer from {request.RequestUri} within {timeout.TotalSeconds:0.#} s.", e);
        }
        catch (HttpRequestException e)
        {
            throw new HubException(HubErrorKind.NetworkUnavailable, $"Cannot reach {request.RequestUri}: {e.Message}", e);
        }
        if ((int)response.StatusCode >= 500)
        {
            response.Dispose();
            throw new HubException(HubErrorKind.NetworkUnavailable, $"{request.RequestUri} answered HTTP {(int)response.StatusCode}.");
        }
        return response;
    }

    public static void AddToken(HttpRequestMessage request, string? token)
    {
        if (token is not null)
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
    }

    public static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? values.FirstOrDefault()
            : null;

    /// <summary>
    /// Hub errors by <c>X-Error-Code</c> (huggingface_hub's <c>hf_raise_for_status</c>). <c>EntryNotFound</c> (or a
    /// bare 404) is not an error here: it returns a missing file, with the commit the Hub names.
    /// </summary>
    private static HubRemoteFile MissingOrThrow(HttpResponseMessage response, Uri url, string repoId, HubOptions options)
    {
        int status = (int)response.StatusCode;
        string? code = Header(response, "X-Error-Code");
        string detail = Header(response, "X-Error-Message") is string m ? $" ({m})" : "";
        if (code == "EntryNotFound" || (status == 404 && code is null))
            return new HubRemoteFile(false, Header(response, "X-Repo-Commit"), null, null, null);
        if (code == "GatedRepo")
            throw new HubException(HubErrorKind.AccessDenied,
                $"Hub repository '{repoId}' is gated: HTTP {status} for {url}{detail}. Accept its conditions on the model page " +
                "and set HF_TOKEN to a token of that account.");
        if (status is 401 or 403)
            throw new HubException(HubErrorKind.AccessDenied,
                $"Access denied to Hub repository '{repoId}': HTTP {status} for {url}{detail}. It is private, gated or does not " +
                (options.Token is null
                    ? "exist, and no token was sent: set HF_TOKEN (or the token file $HF_HOME/token)."
                    : "exist, or the token (HF_TOKEN or $HF_HOME/token) was refused or lacks read access."));
        if (code == "RepoNotFound")
            throw new HubException(HubErrorKind.RepositoryNotFound,
                $"Hub repository '{repoId}' not found or private: HTTP {status} for {url}{detail}. Check the id; for a private " +
                "or gated repository set HF_TOKEN (or the token file $HF_HOME/token) to a token that can read it.");
        if (code == "RevisionNotFound")
            throw new HubException(HubErrorKind.RevisionNotFound,
                $"Revision '{options.Revision}' not found in Hub repository '{repoId}': HTTP {status} for {url}{detail}.");
        throw new HubException(HubErrorKind.Other, $"HTTP {status} {response.ReasonPhrase} for {url}{detail}.");
    }

    private static string? NormalizeEtag(string? etag)
    {
        if (etag is null)
            return null;
        if (etag.StartsWith("W/", StringComparison.Ordinal))
            etag = etag[2..];
        return etag.Trim('"');
    }

    private static long? ParseLong(string? value) =>
        long.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n) ? n : null;
}
