// Where the benchmarks find the full-size random checkpoints that tools/reference/parity_full writes.
namespace Blip.Benchmarks;

/// <summary>The <c>.fullsize/</c> folders: <c>$BLIP_FULLSIZE</c>, else the repository's <c>.fullsize/</c>.</summary>
internal static class FullSize
{
    public static string Captioning => Folder("blip-image-captioning-large");

    public static string Retrieval => Folder("blip-itm-large-flickr");

    private static string Folder(string name)
    {
        string root = Environment.GetEnvironmentVariable("BLIP_FULLSIZE") ?? FindRepoFullSize();
        string folder = Path.Combine(root, name);
        return File.Exists(Path.Combine(folder, "model.safetensors")) ? folder
            : throw new DirectoryNotFoundException($"{folder}: no full-size checkpoint; run tools/reference/parity_full");
    }

    private static string FindRepoFullSize()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Blip.Engine.sln"))) return Path.Combine(dir.FullName, ".fullsize");
        return Path.Combine(Directory.GetCurrentDirectory(), ".fullsize");
    }

    /// <summary>1,000 distinct captions, the same as tools/reference/compare_speed.py's.</summary>
    public static List<string> Captions(int n)
    {
        string[] who = ["a man", "a woman", "a dog", "two children", "a cat", "an old man", "a girl", "a group of people", "a horse", "a young boy"];
        string[] does = ["sitting on", "running along", "standing next to", "playing near", "walking across", "lying on", "looking at", "jumping over", "riding along", "waiting by"];
        string[] where = ["a sandy beach", "a busy street", "a wooden bench", "the green grass", "a snowy hill", "a small boat", "the kitchen table", "a red car", "the river bank", "a tall building"];
        return Enumerable.Range(0, n).Select(i => $"{who[i % 10]} {does[i / 10 % 10]} {where[i / 100 % 10]} in the {(i % 2 == 0 ? "morning" : "evening")}").ToList();
    }
}
