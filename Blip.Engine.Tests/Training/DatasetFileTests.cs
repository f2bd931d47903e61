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

    [TestCase("{\"image\": \"a.png\", \"caption\": \"\"}", "empty")]
    [TestCase("{\"image\": \"a.png\", \"caption\": \"  \\t \"}", "empty")]
    [TestCase("{\"image\": \"\", \"caption\": \"x\"}", "image")]
    [TestCase("{\"image\": \"a\\u0000.png\", \"caption\": \"x\"}", "image")]
    [TestCase("{\"image\": \"gone.png\", \"caption\": \"x\"}", "gone.png")]
    public void A_bad_jsonl_line_is_named_when_the_file_is_read(string line, string problem)
    {
        using var dir = TestPaths.NewTempDir();
        string path = Path.Combine(dir.Path, "d.jsonl");
        File.WriteAllBytes(Path.Combine(dir.Path, "a.png"), []);
        File.WriteAllLines(path, ["{\"image\": \"a.png\", \"caption\": \"fine\"}", line]);
        var e = Assert.Catch(() => CaptionDataset.LoadJsonl(path));
        Assert.That(e, Is.InstanceOf<FormatException>().Or.InstanceOf<FileNotFoundException>());
        Assert.That(e!.Message, Does.Contain("d.jsonl:2").And.Contain(problem));
    }

    [Test]
    public void A_karpathy_entry_with_a_missing_image_or_an_empty_caption_is_named()
    {
        using var dir = TestPaths.NewTempDir();
        string path = Path.Combine(dir.Path, "coco.json");
        File.WriteAllBytes(Path.Combine(dir.Path, "a.png"), []);
        File.WriteAllText(path, "[{\"image\": \"a.png\", \"caption\": \"ok\"}, {\"image\": \"b.png\", \"caption\": \"ok\"}]");
        var missing = Assert.Throws<FileNotFoundException>(() => CaptionDataset.LoadKarpathy(path, dir.Path));
        Assert.That(missing!.Message, Does.Contain("coco.json[1]").And.Contain("b.png"));
        File.WriteAllText(path, "[{\"image\": \"a.png\", \"caption\": [\"ok\", \"\"]}]");
        var empty = Assert.Throws<FormatException>(() => CaptionDataset.LoadKarpathy(path, dir.Path));
        Assert.That(empty!.Message, Does.Contain("coco.json[0]").And.Contain("empty"));
    }

    [Test]
    public void An_overlong_jsonl_line_is_refused_without_reading_it_whole()
    {
        using var dir = TestPaths.NewTempDir();
        string path = Path.Combine(dir.Path, "d.jsonl");
        File.WriteAllBytes(Path.Combine(dir.Path, "a.png"), []);
        File.WriteAllText(path, "{\"image\": \"a.png\", \"caption\": \"fine\"}\n{\"image\": \"a.png\", \"caption\": \"" + new string('x', 2 << 20) + "\"}\n");
        var e = Assert.Throws<FormatException>(() => CaptionDataset.LoadJsonl(path));
        Assert.That(e!.Message, Does.Contain("d.jsonl:2").And.Contain("longer than"));
    }

    [Test]
    public void A_byte_order_mark_blank_lines_and_crlf_are_accepted_and_absolute_paths_are_kept()
    {
        using var dir = TestPaths.NewTempDir();
        string image = Path.Combine(dir.Path, "a.png");
        File.WriteAllBytes(image, []);
        string path = Path.Combine(dir.Path, "sub", "d.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "{\"image\": \"../a.png\", \"caption\": \"one\"}\r\n\r\n   \n{\"image\": \"" + image + "\", \"caption\": \"two\"}",
            new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
        var examples = CaptionDataset.LoadJsonl(path);
        Assert.That(examples.Select(x => (x.ImagePath, x.Caption, x.ImageId)), Is.EqualTo(new[] { (image, "one", 0L), (image, "two", 0L) }));
    }
}
