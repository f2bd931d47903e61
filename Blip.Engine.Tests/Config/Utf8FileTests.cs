// Text files that are not UTF-8: transformers reads its files with open(path, encoding="utf-8") (and tokenizers with
// serde), which refuse them; Blip.Engine refuses them too, naming the file, byte offset and line, instead of reading
// the bytes as U+FFFD into a key, a token or a caption.
using System.Text;
using Blip.Engine.Config;
using Blip.Engine.Generation;
using Blip.Engine.Processing;
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;

namespace Blip.Engine.Tests.Config;

public class Utf8FileTests
{
    // "\xC3(": a lead byte whose next byte does not continue it.
    private static readonly byte[] NotUtf8 = [0xC3, 0x28];

    private static TempDir TinyFolder()
    {
        var dir = TestPaths.NewTempDir();
        TestPaths.CopyFiles(TinyFixtures.ModelFolder("captioning"), dir.Path);
        return dir;
    }

    // Puts NotUtf8 into the file just after the first '"' on its second line (inside a key), or at the start of the
    // second line of vocab.txt (inside a token); returns the byte offset and the 1-based line.
    private static (int Offset, int Line) Corrupt(string path)
    {
        var bytes = File.ReadAllBytes(path).ToList();
        int offset = bytes.IndexOf((byte)'\n') + 1;
        if (!path.EndsWith(".txt", StringComparison.Ordinal)) offset = bytes.IndexOf((byte)'"', offset) + 1;
        bytes.InsertRange(offset, NotUtf8);
        File.WriteAllBytes(path, bytes.ToArray());
        return (offset, 2);
    }

    private static IEnumerable<TestCaseData> ModelFolderFiles()
    {
        yield return new TestCaseData("config.json", (Action<string>)(d => BlipConfig.Load(d))).SetArgDisplayNames("config.json");
        yield return new TestCaseData("processor_config.json", (Action<string>)(d => ImageProcessorConfig.Load(d))).SetArgDisplayNames("processor_config.json");
        yield return new TestCaseData("tokenizer.json", (Action<string>)(d => BlipTokenizer.Load(d).Dispose())).SetArgDisplayNames("tokenizer.json");
        yield return new TestCaseData("tokenizer_config.json", (Action<string>)(d => BlipTokenizer.Load(d).Dispose())).SetArgDisplayNames("tokenizer_config.json");
        yield return new TestCaseData("generation_config.json", (Action<string>)(d => GenerationOptions.FromPretrained(d))).SetArgDisplayNames("generation_config.json");
        yield return new TestCaseData("vocab.txt", (Action<string>)(d =>
        {
            File.Delete(Path.Combine(d, "tokenizer.json")); // so that vocab.txt is what the tokenizer is built from
            BlipTokenizer.Load(d).Dispose();
        })).SetArgDisplayNames("vocab.txt");
    }

    [TestCaseSource(nameof(ModelFolderFiles))]
    public void A_model_folder_file_that_is_not_UTF8_is_refused_naming_file_offset_and_line(string name, Action<string> load)
    {
        using var dir = TinyFolder();
        string path = Path.Combine(dir.Path, name);
        load(dir.Path); // loads as it is
        var (offset, line) = Corrupt(path);

        var e = Assert.Throws<ConfigException>(() => load(dir.Path));

        Assert.That(e!.File, Is.EqualTo(path));
        Assert.That(e.Message, Does.Contain("is not UTF-8 text").And.Contain($"byte 0xC3 at byte offset {offset} (line {line})"));
    }

    [Test]
    public void A_byte_order_mark_is_skipped()
    {
        using var dir = TinyFolder();
        string path = Path.Combine(dir.Path, "config.json");
        var expected = BlipConfig.Load(dir.Path);
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. File.ReadAllBytes(path)]);

        var read = BlipConfig.Load(dir.Path);
        Assert.That(read.Architectures, Is.EqualTo(expected.Architectures), "the first key, read after the mark");
        Assert.That(read.TextConfig with { EosTokenId = expected.TextConfig.EosTokenId }, Is.EqualTo(expected.TextConfig));
        Assert.That(read.TextConfig.EosTokenId, Is.EqualTo(expected.TextConfig.EosTokenId));
    }

    // A dataset line that is not UTF-8, past the reader's first 64 KiB block: the error names the file, the byte offset
    // and line; a valid two-byte character across the block boundary reads as itself.
    [Test]
    public void A_jsonl_dataset_that_is_not_UTF8_is_refused_naming_the_line()
    {
        using var dir = TestPaths.NewTempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "img"));
        File.WriteAllBytes(Path.Combine(dir.Path, "img", "a.png"), []);
        string path = Path.Combine(dir.Path, "d.jsonl");
        string head = "{\"image\": \"img/a.png\", \"caption\": \"";
        var first = Encoding.UTF8.GetBytes(head + new string('x', (1 << 16) - head.Length - 1)).Concat(Encoding.UTF8.GetBytes("é\"}\n")).ToArray();
        Assert.That(first[(1 << 16) - 1], Is.EqualTo(0xC3), "é's first byte ends the first 64 KiB block");
        var second = Encoding.UTF8.GetBytes(head + "ok\"}\n");
        File.WriteAllBytes(path, [.. first, .. second]);
        Assert.That(CaptionDataset.LoadJsonl(path)[0].Caption, Does.EndWith("xé"));

        int offset = first.Length + second.Length + head.Length + 3;
        File.WriteAllBytes(path, [.. first, .. second, .. Encoding.UTF8.GetBytes(head + "bad"), .. NotUtf8, .. "\"}\n"u8.ToArray()]);

        var e = Assert.Throws<FormatException>(() => CaptionDataset.LoadJsonl(path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain($"byte 0xC3 at byte offset {offset} (line 3)"));
    }

    [Test]
    public void A_karpathy_dataset_that_is_not_UTF8_is_refused()
    {
        using var dir = TestPaths.NewTempDir();
        string path = Path.Combine(dir.Path, "coco_karpathy_val.json");
        var head = "[{\"image\": \"1.jpg\", \"caption\": \"a "u8.ToArray();
        File.WriteAllBytes(path, [.. head, .. NotUtf8, .. "\"}]"u8.ToArray()]);

        var e = Assert.Throws<FormatException>(() => CaptionDataset.LoadKarpathy(path, dir.Path));
        Assert.That(e!.Message, Does.Contain(path).And.Contain($"byte 0xC3 at byte offset {head.Length} (line 1)"));
    }
}
