using System.Buffers.Binary;
using System.Text.Json;
using Blip.Engine.Processing;

namespace Blip.Engine.Tests.Processing;

/// <summary>16-bit and cut RLE BMPs against Fixtures/images/bmp_cases.json (tools/reference/make_bmp_cases.py).</summary>
public sealed class ImageBmpTests
{
    private static readonly Lazy<JsonDocument> Cases = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(ImageFixtures.Folder, "bmp_cases.json"))));

    private static List<TestCaseData> Bmp16Cases() => Named("bmp16");

    private static List<TestCaseData> Bmp16CutCases() =>
        Cases.Value.RootElement.GetProperty("bmp16_cut").EnumerateArray()
            .Select(c => new TestCaseData(c.GetProperty("length").GetInt32()).SetArgDisplayNames($"length {c.GetProperty("length")}"))
            .ToList();

    private static List<TestCaseData> RleCases() => Named("rle");

    private static List<TestCaseData> Named(string list) =>
        Cases.Value.RootElement.GetProperty(list).EnumerateArray()
            .Select(c => new TestCaseData(c.GetProperty("name").GetString()).SetArgDisplayNames(c.GetProperty("name").GetString()!))
            .ToList();

    [TestCaseSource(nameof(Bmp16Cases))]
    public void Every_16_bit_value_decodes_as_PIL(string name)
    {
        var c = Cases.Value.RootElement.GetProperty("bmp16").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        uint[]? masks = c.GetProperty("masks").ValueKind == JsonValueKind.Null
            ? null
            : c.GetProperty("masks").EnumerateArray().Select(m => m.GetUInt32()).ToArray();
        var values = Enumerable.Range(0, 65536).Select(v => (ushort)v).ToArray();
        var bmp = Bmp16(256, 256, values, c.GetProperty("header_size").GetInt32(), c.GetProperty("compression").GetInt32(),
            masks, c.GetProperty("top_down").GetBoolean());
        Assert.That(ImageFixtures.Sha256(bmp), Is.EqualTo(c.GetProperty("file_sha256").GetString()), "the test built another file than the script");
        Expect(c, bmp, $"{name}.bmp");
    }

    [TestCaseSource(nameof(Bmp16CutCases))]
    public void A_cut_16_bit_bmp_is_refused_where_PIL_refuses_it(int length)
    {
        var c = Cases.Value.RootElement.GetProperty("bmp16_cut").EnumerateArray().Single(e => e.GetProperty("length").GetInt32() == length);
        var bmp = Bmp16(3, 2, [.. Enumerable.Range(0, 6).Select(i => (ushort)(i * 4111))], 40, 0, null, topDown: false);
        Expect(c, bmp[..length], $"bmp16_3x2_{length}.bmp");
    }

    [TestCaseSource(nameof(RleCases))]
    public void Rle_bmp_is_refused_where_PIL_refuses_it(string name)
    {
        var c = Cases.Value.RootElement.GetProperty("rle").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var bmp = c.TryGetProperty("base64", out var b64)
            ? Convert.FromBase64String(b64.GetString()!)
            : File.ReadAllBytes(ImageFixtures.Source(c.GetProperty("source").GetString()!))[..c.GetProperty("length").GetInt32()];
        Expect(c, bmp, $"{name}.bmp");
    }

    private static void Expect(JsonElement c, byte[] bmp, string sourceName) => ImageFixtures.ExpectPil(c, bmp, sourceName);

    // As make_bmp_cases.py's bmp16: values row-major from the top row, rows padded to 4 bytes; a 40-byte header
    // is followed by three masks, a V4/V5 header holds four.
    private static byte[] Bmp16(int width, int height, ushort[] values, int headerSize, int compression, uint[]? masks, bool topDown)
    {
        int stride = (width * 2 + 3) & ~3;
        int extra = headerSize == 40 ? (masks is null ? 0 : 12) : 0;
        int offset = 14 + headerSize + extra;
        var bmp = new byte[offset + (stride * height)];
        "BM"u8.CopyTo(bmp);
        var s = bmp.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(s[2..], bmp.Length);
        BinaryPrimitives.WriteInt32LittleEndian(s[10..], offset);
        BinaryPrimitives.WriteInt32LittleEndian(s[14..], headerSize);
        BinaryPrimitives.WriteInt32LittleEndian(s[18..], width);
        BinaryPrimitives.WriteInt32LittleEndian(s[22..], topDown ? -height : height);
        BinaryPrimitives.WriteInt16LittleEndian(s[26..], 1);
        BinaryPrimitives.WriteInt16LittleEndian(s[28..], 16);
        BinaryPrimitives.WriteInt32LittleEndian(s[30..], compression);
        BinaryPrimitives.WriteInt32LittleEndian(s[34..], stride * height);
        BinaryPrimitives.WriteInt32LittleEndian(s[38..], 2835);
        BinaryPrimitives.WriteInt32LittleEndian(s[42..], 2835);
        for (int i = 0; masks is not null && i < (headerSize == 40 ? 3 : 4); i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[(54 + (4 * i))..], masks[i]);
        }

        for (int y = 0; y < height; y++)
        {
            int row = offset + (stride * (topDown ? y : height - 1 - y));
            for (int x = 0; x < width; x++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(s[(row + (2 * x))..], values[(y * width) + x]);
            }
        }

        return bmp;
    }
}
