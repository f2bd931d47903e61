// Malformed dataset files: every error is a FormatException naming the file and the line or entry at fault.
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;

namespace Blip.Engine.Tests.Training;

public sealed class DatasetFileTests
{
    [TestCase("not json", "coco.json")]
    [TestCase("[1, 2]", "coco.json[0]")]
    [TestCase("[{\"image\": \"a.png\", \"caption\": [\"ok\", 7]}]", "coco.json[0]")]
    [TestCase("[{\"image\": \"a.png\", \"caption\": [null]}]", "coco.json[0]")]
    [TestCase("[{\"image\": \"a.png\", \"caption\": \"ok\"}, {\"image\": \"a.png\"}]", "coco.json[1]")]
    [TestCase("[]", "coco.json")]
    public void Malformed_karpathy_files_name_the_file_and_entry(string json, string where)
    {
        using var dir = TestPaths.NewTempDir();
        string path = Path.Combine(dir.Path, "coco.json");
        File.WriteAllText(path, json);
        File.WriteAllBytes(Path.Combine(dir.Path, "a.png"), []);
        var e = Assert.Throws<FormatException>(() => CaptionDataset.LoadKarpathy(path, dir.Path));
        Assert.That(e!.Message, Does.Contain(where));
    }
}
