namespace Blip.Cli;

/// <summary>Expands IMAGE|DIR|GLOB arguments into image files, in a stable order.</summary>
public static class ImageInputs
{
    private static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase)
        { ".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif" };

    /// <summary>A file stays itself; a folder gives its image files (sorted, not recursive); a pattern with * or ?
    /// in its last part gives the matching files. Nothing found for an argument is a failure naming it.</summary>
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
                found = Directory.EnumerateFiles(argument).Where(f => Extensions.Contains(Path.GetExtension(f)));
            }
            else if (Path.GetFileName(argument).IndexOfAny(['*', '?']) >= 0)
            {
                var folder = Path.GetDirectoryName(argument);
                folder = string.IsNullOrEmpty(folder) ? "." : folder;
                found = Directory.Exists(folder) ? Directory.EnumerateFiles(folder, Path.GetFileName(argument)) : [];
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
