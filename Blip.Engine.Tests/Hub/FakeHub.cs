// A tiny HTTP/1.1 server on 127.0.0.1 (random port) that answers resolve URLs the way huggingface.co does:
// small files via a relative 307 to /api/resolve-cache/..., LFS files via a 302 to a CDN path (this or another
// FakeHub) with X-Linked-Etag/X-Linked-Size, X-Repo-Commit everywhere, X-Error-Code on 401/404.
// Faults for tests: drop the connection after K bytes once, ignore Range, corrupt, lengthen or shorten bodies, leave
// the size out of the HEAD. A Range past the end gets 416, as from a real server. Stops itself after its lifetime.
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Blip.Engine.Tests.Hub;

public sealed class FakeHub : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _life;
    private readonly ConcurrentDictionary<string, FakeRepo> _repos = new();
    private readonly ConcurrentDictionary<string, byte[]> _blobs = new();
    private int _dropsLeft;
    private bool _stall;

    public FakeHub(TimeSpan? lifetime = null)
    {
        _life = new CancellationTokenSource(lifetime ?? TimeSpan.FromSeconds(60));
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        BlobHost = this;
        _ = AcceptLoopAsync();
    }

    public int Port { get; }

    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>The server whose /cdn/ path serves LFS blobs (this one unless set).</summary>
    public FakeHub BlobHost { get; set; }

    public bool RelativeLfsRedirect { get; set; }

    public string? RequiredToken { get; set; }

    public bool IgnoreRange { get; set; }

    /// <summary>A Range is honoured (body and Content-Range from the offset) but answered 200, not 206, as some
    /// mirrors do.</summary>
    public bool PartialWithStatus200 { get; set; }

    public bool CorruptBlobs { get; set; }

    /// <summary>Blob GETs send this many bytes more than the file (and than the HEAD announced).</summary>
    public int ExtraBlobBytes { get; set; }

    /// <summary>The next CDN response sends this many body bytes, then closes the connection.</summary>
    public int DropAfterBytes { get; set; }

    /// <summary>Blob GETs end cleanly this many bytes before the file's end (no Content-Length, closed early): a
    /// server whose file is shorter than the size the HEAD announced.</summary>
    public int MissingBlobBytes { get; set; }

    /// <summary>HEADs of LFS files send neither X-Linked-Size nor Content-Length, so the size is unknown.</summary>
    public bool OmitLfsSize { get; set; }

    /// <summary>Every resolve request is answered with this status and no Hub headers (a refusal, a rate limit, or a
    /// proxy's own page when 200); null to serve the repositories.</summary>
    public int? AnswerEveryResolveWith { get; set; }

    /// <summary>CDN responses wait this long before their headers (a slow CDN or proxy).</summary>
    public TimeSpan BlobHeaderDelay { get; set; }

    /// <summary>Resolve requests for config.json are answered 307 with this Location; null for none.</summary>
    public string? ConfigRedirect { get; set; }

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public void DropOnce(int afterBytes)
    {
        DropAfterBytes = afterBytes;
        _dropsLeft = 1;
    }

    /// <summary>The next CDN response sends this many body bytes, then keeps the connection open and silent.</summary>
    public void StallOnce(int afterBytes)
    {
        DropOnce(afterBytes);
        _stall = true;
    }

    public void AddRepo(FakeRepo repo)
    {
        _repos[repo.Id] = repo;
        foreach (string name in repo.Lfs)
            BlobHost._blobs[FakeRepo.Sha256(repo.Files[name])] = repo.Files[name];
    }

    public void Dispose()
    {
        _life.Cancel();
        _listener.Stop();
        _life.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (!_life.IsCancellationRequested)
            {
                TcpClient client = await _listener.AcceptTcpClientAsync(_life.Token);
                _ = Task.Run(() => ServeAsync(client));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            _listener.Stop(); // lifetime over: stop accepting
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                NetworkStream stream = client.GetStream();
                var (method, path, headers) = await ReadHeadAsync(stream);
                headers.TryGetValue("authorization", out string? auth);
                headers.TryGetValue("range", out string? range);
                Requests.Enqueue(new RecordedRequest(method, path, auth, range));
                await RouteAsync(stream, method, Uri.UnescapeDataString(path), auth, range);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // the client went away; nothing to do
            }
        }
    }

    private static async Task<(string Method, string Path, Dictionary<string, string> Headers)> ReadHeadAsync(NetworkStream stream)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (bytes.Count < 4 || !(bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n'))
        {
            if (await stream.ReadAsync(one) == 0)
                throw new IOException("connection closed before the request head");
            bytes.Add(one[0]);
        }
        string[] lines = Encoding.ASCII.GetString(bytes.ToArray()).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        string[] first = lines[0].Split(' ');
        var headers = lines.Skip(1).Select(l => l.Split(':', 2))
            .ToDictionary(p => p[0].Trim().ToLowerInvariant(), p => p[1].Trim());
        return (first[0], first[1], headers);
    }

    private Task RouteAsync(NetworkStream stream, string method, string path, string? auth, string? range)
    {
        string[] parts = path.TrimStart('/').Split('/');
        if (parts.Length == 2 && parts[0] == "cdn")
            return ServeBlobAsync(stream, method, parts[1], range);
        if (parts.Length >= 7 && parts[0] == "api" && parts[1] == "resolve-cache")
            return ServeResolveCacheAsync(stream, method, parts);
        if (parts.Length >= 5 && parts[2] == "resolve")
            return ResolveAsync(stream, method, parts, auth);
        return WriteAsync(stream, method, 404, [], []);
    }

    private Task ResolveAsync(NetworkStream stream, string method, string[] parts, string? auth)
    {
        string repoId = parts[0] + "/" + parts[1];
        string file = string.Join('/', parts.Skip(4));
        if (AnswerEveryResolveWith is int status)
            return WriteAsync(stream, method, status, [], Encoding.ASCII.GetBytes("<html>not the Hub</html>"));
        if (ConfigRedirect is not null && file == "config.json")
            return WriteAsync(stream, method, 307, [("Location", ConfigRedirect)], []);
        if (RequiredToken is not null && auth != "Bearer " + RequiredToken)
        {
            return auth is null
                ? WriteAsync(stream, method, 401, [("X-Error-Code", "RepoNotFound"), ("X-Error-Message", "Invalid username or password.")], [])
                : WriteAsync(stream, method, 401, [("X-Error-Message", "Invalid credentials in Authorization header")], []);
        }
        if (!_repos.TryGetValue(repoId, out FakeRepo? repo))
            return WriteAsync(stream, method, 404, [("X-Error-Code", "RepoNotFound"), ("X-Error-Message", "Repository not found")], []);
        string? commit = parts[3] == repo.Commit ? repo.Commit : repo.Refs.GetValueOrDefault(parts[3]);
        if (commit is null)
            return WriteAsync(stream, method, 404, [("X-Error-Code", "RevisionNotFound"), ("X-Error-Message", "Invalid rev id: " + parts[3])], []);
        if (!repo.Files.TryGetValue(file, out byte[]? bytes))
            return WriteAsync(stream, method, 404, [("X-Error-Code", "EntryNotFound"), ("X-Repo-Commit", commit)], []);
        if (!repo.Lfs.Contains(file))
            return WriteAsync(stream, method, 307, [("Location", $"/api/resolve-cache/models/{repoId}/{commit}/{file}"), ("X-Repo-Commit", commit)], []);
        string sha = FakeRepo.Sha256(bytes);
        string location = RelativeLfsRedirect && BlobHost == this ? $"/cdn/{sha}" : $"{BlobHost.Endpoint}/cdn/{sha}";
        (string, string)[] size = OmitLfsSize ? [] : [("X-Linked-Size", bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        return WriteAsync(stream, method, 302,
            [("Location", location), ("X-Repo-Commit", commit), ("X-Linked-Etag", $"\"{sha}\""), .. size,
             ("ETag", $"\"{FakeRepo.GitId(Encoding.ASCII.GetBytes(sha))}\"")], [], contentLength: !OmitLfsSize);
    }

    private Task ServeResolveCacheAsync(NetworkStream stream, string method, string[] parts)
    {
        string repoId = parts[3] + "/" + parts[4];
        string file = string.Join('/', parts.Skip(6));
        if (!_repos.TryGetValue(repoId, out FakeRepo? repo) || !repo.Files.TryGetValue(file, out byte[]? bytes))
            return WriteAsync(stream, method, 404, [("X-Error-Code", "EntryNotFound")], []);
        return WriteAsync(stream, method, 200, [("ETag", $"\"{FakeRepo.GitId(bytes)}\""), ("X-Repo-Commit", parts[5])], bytes);
    }

    private async Task ServeBlobAsync(NetworkStream stream, string method, string sha, string? range)
    {
        await Task.Delay(BlobHeaderDelay, _life.Token);
        if (!_blobs.TryGetValue(sha, out byte[]? bytes))
        {
            await WriteAsync(stream, method, 404, [], []);
            return;
        }
        if (CorruptBlobs)
        {
            bytes = (byte[])bytes.Clone();
            bytes[bytes.Length / 2] ^= 0xFF;
        }
        if (ExtraBlobBytes > 0)
            bytes = [.. bytes, .. new byte[ExtraBlobBytes]];
        bytes = bytes[..^MissingBlobBytes];
        int from = range is not null && !IgnoreRange ? int.Parse(range["bytes=".Length..].TrimEnd('-'), System.Globalization.CultureInfo.InvariantCulture) : 0;
        if (from >= bytes.Length && from > 0)
        {
            await WriteAsync(stream, method, 416, [("Content-Range", $"bytes */{bytes.Length}")], []);
            return;
        }
        byte[] body = bytes[from..];
        (string, string)[] headers = from > 0 ? [("Content-Range", $"bytes {from}-{bytes.Length - 1}/{bytes.Length}")] : [];
        int? dropAfter = Interlocked.Exchange(ref _dropsLeft, 0) > 0 ? DropAfterBytes : null;
        await WriteAsync(stream, method, from > 0 && !PartialWithStatus200 ? 206 : 200, headers, body, dropAfter, contentLength: MissingBlobBytes == 0);
        if (dropAfter is not null && _stall)
            await Task.Delay(Timeout.Infinite, _life.Token);
    }

    private static async Task WriteAsync(NetworkStream stream, string method, int status, (string Name, string Value)[] headers, byte[] body, int? dropAfter = null, bool contentLength = true)
    {
        var head = new StringBuilder($"HTTP/1.1 {status} {ReasonPhrase(status)}\r\n");
        foreach (var (name, value) in headers)
            head.Append(name).Append(": ").Append(value).Append("\r\n");
        if (contentLength)
            head.Append("Content-Length: ").Append(body.Length).Append("\r\n");
        head.Append("Connection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()));
        if (method != "HEAD")
            await stream.WriteAsync(body.AsMemory(0, Math.Min(body.Length, dropAfter ?? body.Length)));
        await stream.FlushAsync();
    }

    private static string ReasonPhrase(int status) => status switch
    {
        200 => "OK", 206 => "Partial Content", 302 => "Found", 307 => "Temporary Redirect",
        401 => "Unauthorized", 403 => "Forbidden", 404 => "Not Found", 429 => "Too Many Requests", 416 => "Range Not Satisfiable", _ => "Status",
    };
}
