using System.CommandLine;

namespace Blip.Cli;

/// <summary>Expands IMAGE|DIR|GLOB arguments into image files, in a stable order.</summary>
public static class ImageInputs
{
    /// <summary>Makes a token that starts with '-' and names no file or folder a usage error (an unknown option such
    /// as <c>--bogus</c> would otherwise be taken for an image path); an image so named can be written <c>./-name</c>.</summary>
    public static void RejectOptionLike(Argument argument)
    {
        ArgumentNullException.ThrowIfNull(argument);
        argument.Validators.Add(r =>
        {
            foreach (var token in r.Tokens)
                if (token.Value.Length > 1 && token.Value[0] == '-' && !File.Exists(token.Value) && !Directory.Exists(token.Value))
                    r.AddError($"unknown option {token.Value} (an image whose name starts with '-' can be written ./{token.Value})");
        });
    }

    private static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase)
        { ".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif" };

    // The shell's meaning of * and ? (MatchType.Simple): .NET's default Win32 rules let "a?.png" match "a.png" and
    // "*.*" match a name without a dot. Hidden and unreadable files are treated as before (the legacy overload's).
    private static readonly EnumerationOptions GlobOptions = new()
    {
        MatchType = MatchType.Simple, AttributesToSkip = 0, IgnoreInaccessible = false,
    };

    private static bool IsDotFile(string path) => Path.GetFileName(path).StartsWith('.');

    /// <summary>A file stays itself; a folder gives its image files (sorted, not recursive, no dot-files); a pattern
    /// with * or ? in its last part gives the matching files, as a shell would. Nothing found for an argument is a failure naming it.</summary>
    public static IReadOnlyList<string> Expand(IEnumerable<string> arguments, out bool fromFolders)
    {
        var files = new List<string>();
        fromFolders = false;
        foreach (var argument in arguments)
        {
            if (File.Exists(argument)) { files.Add(argument); continue; }
            IEnumerable<string> found;
            if (Directory.Exists(argument))
            {
                // Dot-files left out, as ls and a shell's * leave them out (macOS's ._name AppleDouble files are not images).
                found = Directory.EnumerateFiles(argument).Where(f => Extensions.Contains(Path.GetExtension(f)) && !IsDotFile(f));
            }
            else if (Path.GetFileName(argument).IndexOfAny(['*', '?']) >= 0)
            {
                var folder = Path.GetDirectoryName(argument);
                folder = string.IsNullOrEmpty(folder) ? "." : folder;
                string pattern = Path.GetFileName(argument);
                // A shell's * and ? never match a leading '.'; only a pattern that starts with '.' finds dot-files.
                found = Directory.Exists(folder)
                    ? Directory.EnumerateFiles(folder, pattern, GlobOptions).Where(f => pattern.StartsWith('.') || !IsDotFile(f))
                    : [];
            }
            else
            {
                throw new FileNotFoundException($"image not found: {argument}", argument);
            }
            var sorted = found.Order(StringComparer.Ordinal).ToList();
            if (sorted.Count == 0) throw new FileNotFoundException($"no images in {argument}", argument);
            fromFolders = true;
            files.AddRange(sorted);
        }
        return files;
    }
}
