// One tokenizer of Hugging Face's Rust `tokenizers` (through Tokenizers.DotNet), loaded from a
// tokenizer.json document, with the locking that makes it safe to share between threads.
using Blip.Engine.Config;
using Tokenizers.DotNet;

namespace Blip.Engine.Processing;

/// <summary>A native tokenizer session; <see cref="Encode"/> adds no special tokens.</summary>
/// <remarks>
/// Tokenizers.DotNet keeps every session in one process-wide native table, created and removed by
/// constructors and <c>Dispose</c>; its source does not promise that lookups are safe while another
/// thread adds or removes a session. So every native call here holds one process-wide
/// reader/writer lock: encodes (readers) run in parallel, creating and disposing
/// sessions (writers) run alone.
/// </remarks>
internal sealed class NativeTokenizerSession : IDisposable
{
    private static readonly ReaderWriterLockSlim Gate = new(LockRecursionPolicy.NoRecursion);
    private readonly Tokenizer _native;
    private bool _disposed;

    /// <summary>Loads <paramref name="document"/> (a tokenizer.json text); <paramref name="source"/> names it in errors.</summary>
    public NativeTokenizerSession(string document, string source)
    {
        // The library loads only from a file path; the file is gone once the session is built.
        string path = Path.Combine(Path.GetTempPath(), $"blip-tokenizer-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(path, document);
            Gate.EnterWriteLock();
            try
            {
                _native = new Tokenizer(path);
            }
            finally
            {
                Gate.ExitWriteLock();
            }
        }
        catch (TokenizerException e)
        {
            throw new ConfigException(source, "", $"the tokenizers library rejected it: {e.Message}", e);
        }
        catch (DllNotFoundException e)
        {
            throw new PlatformNotSupportedException(
                "The native Hugging Face tokenizers library (libhf_tokenizers) did not load; Blip.Engine references " +
                "Tokenizers.DotNet.runtime.linux-x64 only, so other platforms need their Tokenizers.DotNet.runtime.* package.", e);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Token ids of <paramref name="text"/>, without special tokens.</summary>
    public uint[] Encode(string text)
    {
        Gate.EnterReadLock();
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _native.Encode(text);
        }
        catch (TokenizerException e)
        {
            throw new ArgumentException($"The text cannot be tokenized: {e.Message}", nameof(text), e);
        }
        finally
        {
            Gate.ExitReadLock();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Gate.EnterWriteLock();
        try
        {
            if (_disposed)
                return;
            _disposed = true;
            _native.Dispose();
        }
        finally
        {
            Gate.ExitWriteLock();
        }
    }
}
