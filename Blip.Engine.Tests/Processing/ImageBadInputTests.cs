using System.Buffers.Binary;
using Blip.Engine.Processing;

namespace Blip.Engine.Tests.Processing;

public sealed class ImageBadInputTests
{
    private static ImageDecodeException Fails(byte[] data, string name, ImageDecodeOptions? options = null)
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(data, name, options));
        Assert.That(e!.Message, Does.Contain(name));
        return e;
    }

    [Test]
    public void The_largest_pixel_limit_allowed_still_fits_its_decode_buffer_in_one_array()
    {
        // At int.MaxValue / 4 pixels, the 4-byte-a-pixel buffer of a 69-byte PNG claiming 256999×2089 was beyond
        // Array.MaxLength: an OutOfMemoryException, not the decoder's refusal.
        Assert.That(Array.MaxLength, Is.GreaterThanOrEqualTo(ImageDecodeOptions.UpperMaxPixels * 4));
        Assert.That(Array.MaxLength, Is.LessThan(ImageDecodeOptions.UpperMaxPixels * 4 + 4), "the limit is as high as the buffer allows");
    }

    [Test]
    public void Zero_bytes() => Assert.That(Fails([], "empty.png").Message, Does.Contain("empty"));

    [Test]
    public void Not_an_image() => Fails("hello, this is text, not pixels\n"u8.ToArray(), "notes.txt");

    [TestCase("jpeg_q90_420_320x240.jpg")]
    [TestCase("jpeg_progressive_333x201.jpg")]
    [TestCase("rgb_200x150.png")]
    [TestCase("webp_lossy_200x150.webp")]
    public void Truncated_file(string name)
    {
        var data = File.ReadAllBytes(ImageFixtures.Source(name));
        Fails(data[..(data.Length / 2)], name);
        Fails(data[..40], name);
    }

    [TestCase("jpeg_q90_420_320x240.jpg")]
    [TestCase("jpeg_progressive_333x201.jpg")]
    public void Bytes_after_a_jpegs_end_marker_are_ignored(string name)
    {
        // A trailer with start-of-scan bytes in it (a phone's appended video has them): PIL reads up to EOI only.
        var data = File.ReadAllBytes(ImageFixtures.Source(name));
        byte[] trailer = [0xFF, 0xDA, 0x00, 0x00, 0x78, 0xFF, 0xDA, 0x12];
        var whole = ImageDecoder.Decode(data, name);
        var withTrailer = ImageDecoder.Decode([.. data, .. trailer], name);
        Assert.That(withTrailer.Width, Is.EqualTo(whole.Width));
        Assert.That(withTrailer.Pixels.ToArray(), Is.EqualTo(whole.Pixels.ToArray()));
    }

    [Test]
    public void Missing_file()
    {
        var path = Path.Combine(ImageFixtures.Folder, "no-such-image.png");
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(path));
        Assert.That(e!.Message, Does.Contain(path));
        var processor = new BlipImageProcessor();
        Assert.Throws<ImageDecodeException>(() => processor.Preprocess([path]).Dispose());
    }

    /// <summary>A folder given as an image (<c>blip match DIR</c>, <c>BlipMatcher.Match(folder, ...)</c>) is named as a
    /// folder, as PIL's <c>Image.open(folder)</c> raises IsADirectoryError "Is a directory": .NET's own message, "Access
    /// to the path is denied", sent users looking for a permissions problem.</summary>
    [Test]
    public void A_folder_is_named_as_a_folder_not_as_access_denied()
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(ImageFixtures.Folder));
        Assert.That(e!.Message, Does.Contain(ImageFixtures.Folder).And.Contain("is a folder").And.Not.Contain("denied"));
    }

    [Test]
    public void Header_claiming_too_many_pixels_is_refused_before_decoding()
    {
        // A valid PNG header claiming 50000 x 50000 (2.5 gigapixels, 10 GB as RGBA) with almost no data.
        var e = Fails(PngClaiming(50_000, 50_000), "huge.png");
        Assert.That(e.Message, Does.Contain("50000x50000").And.Contain("MaxPixels"));
    }

    [Test]
    public void Jpeg_header_claiming_too_many_pixels_is_refused_before_decoding()
    {
        // The fixture with its frame header (SOF0: FF C0, length, precision, height, width) set to 60000 x 60000.
        var data = File.ReadAllBytes(ImageFixtures.Source("jpeg_q90_420_320x240.jpg"));
        int sof = data.AsSpan().IndexOf([(byte)0xFF, (byte)0xC0]);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(sof + 5), 60000);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(sof + 7), 60000);
        Assert.That(Fails(data, "huge.jpg").Message, Does.Contain("60000x60000"));
    }

    [Test]
    public void Pixel_limit_is_configurable()
    {
        var data = File.ReadAllBytes(ImageFixtures.Source("rgb_200x150.png"));
        Fails(data, "rgb_200x150.png", new ImageDecodeOptions { MaxPixels = 200 * 150 - 1 });
        Assert.That(ImageDecoder.Decode(data, "ok", new ImageDecodeOptions { MaxPixels = 200 * 150 }).Width, Is.EqualTo(200));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ImageDecodeOptions { MaxPixels = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ImageDecodeOptions { MaxPixels = 1L << 40 });
    }

    private static byte[] PngClaiming(int width, int height)
    {
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // RGB
        Chunk(png, "IHDR", ihdr);
        Chunk(png, "IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream s, string tag, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var typed = System.Text.Encoding.ASCII.GetBytes(tag).Concat(data).ToArray();
        s.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(len, System.IO.Hashing.Crc32.HashToUInt32(typed));
        s.Write(len);
    }


    [Test]
    public void An_endless_file_is_refused_at_the_byte_limit_instead_of_read_until_memory_runs_out()
    {
        var options = new ImageDecodeOptions { MaxBytes = 1 << 20 };
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode("/dev/zero", options));
        Assert.That(e!.Message, Does.Contain("/dev/zero").And.Contain("MaxBytes"));
        using var endless = new EndlessStream();
        var s = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(endless, "socket", options));
        Assert.That(s!.Message, Does.Contain("socket").And.Contain("MaxBytes"));
        Assert.That(endless.Served, Is.LessThanOrEqualTo((1 << 20) + (1 << 17)), "stops reading right after the limit");
    }
    [Test]
    public void A_file_over_the_byte_limit_is_refused_before_reading_and_one_under_it_decodes()
    {
        string path = ImageFixtures.Source("rgb_200x150.png");
        long size = new FileInfo(path).Length;
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(path, new ImageDecodeOptions { MaxBytes = size - 1 }));
        Assert.That(e!.Message, Does.Contain(path).And.Contain($"{size} bytes"));
        var image = ImageDecoder.Decode(path, new ImageDecodeOptions { MaxBytes = size });
        Assert.That((image.Width, image.Height), Is.EqualTo((200, 150)));
        using var stream = File.OpenRead(path);
        Assert.That(ImageDecoder.Decode(stream, "stream", new ImageDecodeOptions { MaxBytes = size }).Width, Is.EqualTo(200));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new ImageDecodeOptions { MaxBytes = 0 });
    }

    /// <summary>A stream that never ends (a pipe or socket that keeps sending).</summary>
    private sealed class EndlessStream : Stream
    {
        public long Served { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Served; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            Array.Clear(buffer, offset, count);
            Served += count;
            return count;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
