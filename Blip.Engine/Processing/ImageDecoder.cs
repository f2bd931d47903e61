// Image bytes → RgbImage, equal to PIL's Image.open(...).convert("RGB"): SkiaSharp decodes
// (libpng / libjpeg-turbo / libwebp, as Pillow uses), then the few places where PIL's mode
// conversion differs from Skia's are done here (16-bit PNGs, 16-bit and RLE BMPs). A GIF is read
// here whole, as Pillow reads it (ImageGifFrame, ImageGifLzw): Pillow's GIF reader is its own.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using SkiaSharp;

namespace Blip.Engine.Processing;

/// <summary>Decodes PNG, JPEG, WebP, GIF, BMP and ICO (the formats both Skia and Pillow read) into <see cref="RgbImage"/>.</summary>
/// <remarks>
/// Reproduces Pillow's <c>Image.open(f).convert("RGB")</c>: gray, palette, gray+alpha and RGBA
/// become RGB with alpha dropped (not composited; Skia is asked for unpremultiplied pixels so
/// transparent pixels keep their colour), no colour management (ICC profiles and PNG gamma are
/// ignored, as PIL does), palette indices past a PNG's PLTE are black, a GIF is read by <see cref="ImageGifFrame"/> and <see cref="ImageGifLzw"/> as Pillow's GifImagePlugin reads its first frame (the screen outside a smaller frame shows the transparent index's colour, or entry 0's), as do the pixels an RLE BMP leaves unwritten (RLE BMPs are decoded as Pillow's BmpRleDecoder does, refused where it refuses them: <see cref="ImageBmpRle"/>), 16-bit PNG channels keep their high byte except 16-bit gray, which PIL
/// opens as <c>I;16</c> and clips to 255 (decoded by <see cref="ImagePngGray16"/>, as Skia cannot), and 16-bit BMP
/// channels widen as Pillow's <c>v * 255 / 31</c> (or 63), with only the 5-6-5 and 5-5-5 bit fields Pillow reads
/// (<see cref="ImageBmp16"/>). EXIF orientation is ignored unless
/// <see cref="ImageDecodeOptions.ApplyExifOrientation"/> is set, and then found as Pillow finds it (<see cref="ImageExifOrientation"/>).
/// </remarks>
public static class ImageDecoder
{
    /// <summary>Reads and decodes the file at <paramref name="path"/>.</summary>
    /// <exception cref="ImageDecodeException">The file is missing, unreadable, not an image, truncated or too large.</exception>
    public static RgbImage Decode(string path, ImageDecodeOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= ImageDecodeOptions.Default;
        MemoryStream data;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            data = ReadBounded(file, path, options);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            // .NET reports opening a folder as "Access to the path is denied" (PIL: IsADirectoryError).
            if (Directory.Exists(path))
                throw new ImageDecodeException($"Image '{path}' is a folder, not an image file", e);
            throw new ImageDecodeException($"Image '{path}' cannot be read: {e.Message}", e);
        }

        using (data)
            return Decode(data.GetBuffer().AsSpan(0, (int)data.Length), path, options);
    }

    /// <summary>Reads <paramref name="stream"/> to its end and decodes it.</summary>
    /// <param name="stream">The encoded image.</param>
    /// <param name="sourceName">Names the image in error messages (a file name or URL).</param>
    /// <param name="options">Decode options; <see cref="ImageDecodeOptions.Default"/> when null.</param>
    /// <exception cref="ImageDecodeException">The data is not a decodable image or is too large.</exception>
    public static RgbImage Decode(Stream stream, string sourceName, ImageDecodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        options ??= ImageDecodeOptions.Default;
        using var data = ReadBounded(stream, sourceName, options);
        return Decode(data.GetBuffer().AsSpan(0, (int)data.Length), sourceName, options);
    }

    /// <summary>The rest of <paramref name="stream"/>, refused once it passes <see cref="ImageDecodeOptions.MaxBytes"/>
    /// (before reading when its length is known). Hand-written: Stream.CopyTo has no limit.</summary>
    private static MemoryStream ReadBounded(Stream stream, string sourceName, ImageDecodeOptions options)
    {
        long known = stream.CanSeek ? stream.Length - stream.Position : -1;
        if (known > options.MaxBytes) throw TooLong(sourceName, $"is {known} bytes", options);
        var data = new MemoryStream(known > 0 ? (int)known : 0);
        var chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            if (data.Length + read > options.MaxBytes)
                throw TooLong(sourceName, $"has more than {options.MaxBytes} bytes", options);
            data.Write(chunk, 0, read);
        }
        return data;
    }

    private static ImageDecodeException TooLong(string sourceName, string size, ImageDecodeOptions options) =>
        new($"Image '{sourceName}' {size}; the limit is {options.MaxBytes} (ImageDecodeOptions.MaxBytes).");

    /// <summary>Decodes the encoded image in <paramref name="data"/>.</summary>
    /// <param name="data">The encoded image (PNG, JPEG, WebP, ...).</param>
    /// <param name="sourceName">Names the image in error messages (a file name or URL).</param>
    /// <param name="options">Decode options; <see cref="ImageDecodeOptions.Default"/> when null.</param>
    /// <exception cref="ImageDecodeException">The data is not a decodable image or is too large.</exception>
    public static RgbImage Decode(ReadOnlySpan<byte> data, string sourceName, ImageDecodeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(sourceName);
        options ??= ImageDecodeOptions.Default;
        if (data.IsEmpty)
        {
            throw new ImageDecodeException($"Image '{sourceName}' is empty (0 bytes).");
        }

        if (ImageIcoEntry.Image(data, out var icoRefusal) is { } entry)
        {
            // Pillow reads an ICO's image as the PNG or BMP file it is (exif_transpose then sees no EXIF of it)
            return Decode(entry, sourceName, options with { ApplyExifOrientation = false });
        }

        if (icoRefusal is not null)
        {
            throw new ImageDecodeException($"Image '{sourceName}' is an ICO file that Pillow refuses: {icoRefusal}.");
        }

        if (ImageCurEntry.Image(data, out var curRefusal, out bool masked) is { } cursor)
        {
            // Pillow reads a cursor as a BMP, and blackens a gray one where its AND mask is set
            var bitmap = Decode(cursor, sourceName, options with { ApplyExifOrientation = false });
            return masked ? ImageCurEntry.ApplyMask(bitmap) : bitmap;
        }

        if (curRefusal is not null)
        {
            throw new ImageDecodeException($"Image '{sourceName}' is a CUR file that Pillow refuses: {curRefusal}.");
        }

        if (ImageGifFrame.IsGif(data))
        {
            return DecodeGif(data, sourceName, options); // Pillow's GIF plugin reads no EXIF
        }

        var source = data; // the orientation is read from the file as given: Prepare may drop chunks Pillow reads
        data = Prepare(data, sourceName, out var firstFrame);
        var format = SKEncodedImageFormat.Png; // a first frame comes only from a PNG
        var image = firstFrame is { } box
            ? DecodeFirstFrame(data, box, sourceName, options)
            : DecodeEncoded(data, sourceName, options, out format);
        return options.ApplyExifOrientation
            ? ImageOrientation.Apply(image, ImageExifOrientation.Read(source, format, sourceName))
            : image;
    }

    // Pillow decodes the image data into the first frame's region of a zero canvas (ImagePngFirstFrame).
    private static RgbImage DecodeFirstFrame(ReadOnlySpan<byte> data, ImagePngFrameBox box, string sourceName, ImageDecodeOptions options)
    {
        long width = BinaryPrimitives.ReadUInt32BigEndian(data[16..]), height = BinaryPrimitives.ReadUInt32BigEndian(data[20..]);
        RequireSize(width, height, sourceName, options);
        var frame = DecodeEncoded(ImagePngFirstFrame.Extract(data, box), sourceName, options, out _);
        return ImagePngFirstFrame.Place(frame, box, (int)width, (int)height, ImagePngFirstFrame.ZeroColour(data), data[28] == 1);
    }

    // Pillow's own reading of a GIF's first frame (ImageGifFrame, ImageGifLzw), onto a canvas that holds the transparent
    // index where the frame does not reach, or index 0 when there is none (GifImagePlugin.load_prepare).
    private static RgbImage DecodeGif(ReadOnlySpan<byte> gif, string sourceName, ImageDecodeOptions options)
    {
        var frame = ImageGifFrame.Read(gif, out string? refusal)
            ?? throw new ImageDecodeException($"Image '{sourceName}' is a GIF that Pillow refuses: {refusal}.");
        RequireSize(frame.CanvasWidth, frame.CanvasHeight, sourceName, options);
        if (frame.Box.Width == 0 || frame.Box.Height == 0)
        {
            throw new ImageDecodeException(
                $"Image '{sourceName}' is a GIF whose first image is {frame.Box.Width}x{frame.Box.Height} (Pillow: tile cannot extend outside image).");
        }

        var canvas = new byte[(long)frame.CanvasWidth * frame.CanvasHeight];
        Array.Fill(canvas, (byte)(frame.Transparency ?? 0));
        return ImageGifLzw.Decode(gif[frame.DataOffset..], canvas, frame.CanvasWidth, frame) is { } broken
            ? throw new ImageDecodeException($"Image '{sourceName}' is a GIF that Pillow cannot load: {broken}.")
            : frame.ToRgb(gif, canvas);
    }

    // An image of at least one pixel and at most ImageDecodeOptions.MaxPixels, else a refusal naming its size.
    private static void RequireSize(long width, long height, string sourceName, ImageDecodeOptions options)
    {
        if (width <= 0 || height <= 0 || width * height > options.MaxPixels)
        {
            throw new ImageDecodeException(
                $"Image '{sourceName}' claims {width}x{height} = {width * height} pixels; the limit is {options.MaxPixels} (ImageDecodeOptions.MaxPixels).");
        }
    }

    // The BMPs decoded here, not by Skia (16-bit, RLE, gray-palette ones: each reader refuses what Pillow refuses), or
    // null. They never reach Skia, which also refuses sizes Pillow reads (a 458757-pixel-wide RLE file, say).
    private static RgbImage? DecodeBmpByHand(ReadOnlySpan<byte> data, string sourceName, ImageDecodeOptions options)
    {
        if (!ImageBmpHeader.TryRead(data, out var bmp)) return null;
        var reader = ImageBmp16.Handles(bmp) ? BmpReader.Bits16
            : ImageBmpRle.Handles(bmp) ? BmpReader.Rle
            : ImageBmpGray.Handles(data, bmp) ? BmpReader.GrayPalette
            : BmpReader.Skia;
        if (reader == BmpReader.Skia) return null;
        RequireSize(bmp.Width, bmp.Height, sourceName, options);
        return reader switch
        {
            BmpReader.Bits16 => ImageBmp16.Decode(data, bmp, sourceName),
            BmpReader.Rle => ImageBmpRle.Decode(data, bmp, sourceName),
            _ => ImageBmpGray.Decode(data, bmp, sourceName),
        };
    }

    // Which reader DecodeBmpByHand gives a BMP: one of its own, or none (Skia's).
    private enum BmpReader
    {
        Skia,
        Bits16,
        Rle,
        GrayPalette,
    }

    // Skia's decode of the prepared data, checked against the formats Pillow reads and the size limit.
    private static RgbImage DecodeEncoded(ReadOnlySpan<byte> data, string sourceName, ImageDecodeOptions options, out SKEncodedImageFormat format)
    {
        if (DecodeBmpByHand(data, sourceName, options) is { } bitmap)
        {
            format = SKEncodedImageFormat.Bmp;
            return bitmap;
        }

        using var skData = SKData.CreateCopy(data);
        using var codec = SKCodec.Create(skData)
            ?? throw new ImageDecodeException(
                $"Image '{sourceName}' ({data.Length} bytes) is not in a format that can be decoded (PNG, JPEG, WebP, GIF, BMP, ICO).");
        if (codec.EncodedFormat is not (SKEncodedImageFormat.Png or SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Webp
            or SKEncodedImageFormat.Bmp or SKEncodedImageFormat.Ico))
        {
            // Skia also reads WBMP, which Pillow cannot open: transformers would fail on such a file. A GIF that
            // reaches Skia lacks the GIF87a or GIF89a signature Pillow requires (Decode reads the others itself).
            throw new ImageDecodeException(
                $"Image '{sourceName}' is {codec.EncodedFormat}, which Pillow cannot open; the formats read are PNG, JPEG, WebP, GIF, BMP and ICO.");
        }

        var info = codec.Info;
        RequireSize(info.Width, info.Height, sourceName, options);

        if (codec.EncodedFormat == SKEncodedImageFormat.Jpeg && !HasEndOfImageAfterLastScan(data))
        {
            // libjpeg-turbo (via Skia) fills in a progressive JPEG cut inside a later scan and
            // reports success; PIL raises "image file is truncated". Refuse it, as PIL does.
            throw new ImageDecodeException($"Image '{sourceName}' is a truncated JPEG (no end-of-image marker after its last scan).");
        }

        format = codec.EncodedFormat;
        return DecodePixelsOrEndedStream(codec, data, sourceName);
    }

    // The data as Skia is to read it: refused where Pillow refuses what Skia would decode (broken PNG chunks or chunk
    // bodies, a cut WebP container, a JPEG header segment Pillow raises on, a BMP layout),
    // mended where Skia would differ from Pillow (a wrong IDAT CRC, APNG frame data as the only image data, an IHDR or
    // a damaged chunk header after the image data, a short PNG palette, a BMP
    // without its last row's padding or with its pixels at an offset Skia does not read). ICO and CUR files are taken
    // apart before, in Decode, into the PNG or BMP file Pillow reads, and GIF files never come here.
    private static ReadOnlySpan<byte> Prepare(ReadOnlySpan<byte> data, string sourceName, out ImagePngFrameBox? firstFrame)
    {
        if ((ImagePngChunks.BrokenHeader(data) ?? ImagePngChunks.BrokenTail(data)) is { } broken)
        {
            throw new ImageDecodeException($"Image '{sourceName}' is a broken PNG file: {broken} (Pillow refuses it too).");
        }

        if (ImagePngChunkRules.Refusal(data, out firstFrame) is { } rule)
        {
            throw new ImageDecodeException($"Image '{sourceName}' is a PNG that Pillow refuses: {rule}.");
        }

        if (ImagePngChunks.FrameDataAsImageData(data) is { } frames)
        {
            data = frames; // Pillow decodes an APNG whose image data is fdAT chunks only; libpng finds no IDAT
        }

        if (ImagePngChunks.MendImageDataCrcs(data) is { } crcs)
        {
            data = crcs; // Pillow never checks an IDAT's CRC
        }

        if (ImagePngChunks.WithoutChunksSkiaRefuses(data) is { } stripped)
        {
            data = stripped; // Pillow passes over a chunk of a reserved type and a PLTE it replaces or ignores; Skia refuses them
        }

        if (ImagePngChunks.EndWherePillowStops(data) is { } ended)
        {
            data = ended; // libpng refuses an IHDR or a damaged header after the pixels; Pillow reads or stops at it
        }

        if (ImagePngPalette.PadShortPalette(data) is { } padded)
        {
            return padded; // indices past the file's palette are black in PIL; Skia would repeat its last colour
        }

        if (ImageWebpContainer.Incomplete(data) is { } cut)
        {
            throw new ImageDecodeException($"Image '{sourceName}' is a truncated WebP file: {cut} (Pillow refuses it too).");
        }

        if (ImageJpegHeader.Refusal(data) is { } jpegHeader)
        {
            throw new ImageDecodeException($"Image '{sourceName}' is a JPEG that Pillow cannot identify: {jpegHeader}.");
        }

        if ((ImageBmpHeader.HeaderRefusal(data) ?? ImageBmpLayout.PaletteRefusal(data)) is { } header)
        {
            throw new ImageDecodeException($"Image '{sourceName}' is a BMP that Pillow refuses: {header}.");
        }

        if (ImageBmpPalette.Complete(data) is { } completed)
        {
            data = completed; // Pillow reads a palette that runs into the pixels or past the end; Skia refuses it
        }

        if (!ImageBmpHeader.TryRead(data, out var bmp))
        {
            return data;
        }

        if (ImageBmpLayout.Refusal(bmp) is { } refusal)
        {
            throw new ImageDecodeException($"Image '{sourceName}' is a BMP that Pillow refuses: {refusal}.");
        }

        if (ImageBmpOffset.Relocate(data, bmp) is { } moved && ImageBmpHeader.TryRead(moved, out var movedHeader))
        {
            bmp = movedHeader;
            data = moved; // Pillow reads the pixels from an offset of 0 or inside the headers; Skia refuses it
        }

        return ImageBmpLayout.Mend(data, bmp) ?? data;
    }

    // Skia's pixels; where Skia refuses a PNG whose IDAT zlib stream stops after the last row's data (no final block
    // or Adler-32), which Pillow reads, those of the same rows in a finished stream (ImagePngImageData). Skia's refusal
    // is the check: a PNG it decodes is never inflated here.
    private static RgbImage DecodePixelsOrEndedStream(SKCodec codec, ReadOnlySpan<byte> data, string sourceName)
    {
        try
        {
            return DecodePixels(codec, data, sourceName);
        }
        catch (ImageDecodeException) when (codec.EncodedFormat == SKEncodedImageFormat.Png && ImagePngImageData.EndStream(data) is { } ended)
        {
            using var endedData = SKData.CreateCopy(ended);
            using var endedCodec = SKCodec.Create(endedData)
                ?? throw new ImageDecodeException($"Image '{sourceName}' is a PNG whose image data cannot be decoded.");
            return DecodePixels(endedCodec, ended, sourceName);
        }
    }

    // Skia's pixels, except for the files whose PIL pixels it cannot give: 16-bit gray PNGs (the BMPs it cannot give
    // never reach Skia: DecodeBmpByHand).
    private static RgbImage DecodePixels(SKCodec codec, ReadOnlySpan<byte> data, string sourceName)
    {
        if (ImagePngHeader.TryRead(data, out var png) && png.BitDepth == 16 && png.ColorType == ImagePngHeader.Gray)
        {
            return DecodeGray16Png(codec, data, sourceName);
        }

        return DecodeRgba8(codec, sourceName);
    }

    // RGBA → RGB dropping alpha (unpremultiplied: a transparent pixel keeps its colour, as in PIL).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a per-pixel loop run once per image: skip the unoptimised JIT tier
    private static RgbImage DecodeRgba8(SKCodec codec, string sourceName)
    {
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = GetPixels(codec, info, sourceName);
        var rgb = new byte[(long)info.Width * info.Height * 3];
        for (int i = 0, j = 0; j < rgb.Length; i += 4, j += 3)
        {
            rgb[j] = rgba[i];
            rgb[j + 1] = rgba[i + 1];
            rgb[j + 2] = rgba[i + 2];
        }

        return new RgbImage(info.Width, info.Height, rgb);
    }

    // PIL opens a 16-bit gray PNG as mode I;16 and convert("RGB") clips it to 255; Skia cuts such
    // PNGs to 8 bits before any output format, so they are decoded here (after Skia validated the
    // file by decoding it once, which also gives the truncation checks). 16-bit RGB, RGBA and
    // gray+alpha keep their high byte in both, so they take the 8-bit path.
    private static RgbImage DecodeGray16Png(SKCodec codec, ReadOnlySpan<byte> data, string sourceName)
    {
        _ = DecodeRgba8(codec, sourceName);
        return ImagePngGray16.Decode(data, sourceName);
    }

    // Whether the JPEG's marker structure reaches an end-of-image marker. Walked segment by segment from SOI, so the
    // bytes after EOI (a phone's appended "motion photo" video, any trailer) are never read, as PIL never reads them.
    // Inside a scan's entropy-coded data an FF is followed by 00 (stuffing) or D0–D7 (restart); anything else is the
    // next marker, except an invalid one (under FFC0) before the scan's last restart interval, which libjpeg's resync
    // passes over (ImageJpegHeader.RestartIntervals counts the intervals). Between segments a stuffed FF 00 is skipped,
    // as libjpeg's next_marker discards it, and a DQT or DHT that libjpeg-turbo cannot read ends the walk
    // (ImageJpegHeader.TablesRead). Hand-written: Skia decodes a cut progressive JPEG as if whole and says nothing of
    // it. Where the structure is not a marker walk's (not FF at a segment start), the search over the whole file
    // decides as before. A sequential file of one scan that libjpeg's Huffman decoder can be followed through
    // (ImageJpegScanSetup) is decided by ReadsEveryRow alone: the walk would pass over a marker after the scan that
    // libjpeg raises at (an SOF, a JPG or reserved marker, a DRI of another length) to an EOI further on.
    private static bool HasEndOfImageAfterLastScan(ReadOnlySpan<byte> data)
    {
        int? singleScan = ImageJpegHeader.SingleScanData(data);
        if (singleScan is { } entropy)
        {
            if (ReadsEveryRow(data, entropy)) return true;
            if (ImageJpegScanSetup.Read(data, entropy) is not null) return false;
        }

        int i = 2;                                                        // after SOI
        var frame = ReadOnlySpan<byte>.Empty;                             // the SOF segment's payload
        int restartInterval = 0, scans = 0;
        while (i + 1 < data.Length)
        {
            if (data[i] != 0xFF)
                return data.LastIndexOf([(byte)0xFF, (byte)0xD9]) > data.LastIndexOf([(byte)0xFF, (byte)0xDA]);
            byte marker = data[i + 1];
            if (marker == 0xD9) return true;                                  // EOI
            if (marker == 0xFF) { i++; continue; }                            // fill byte
            if (marker == 0x00) { i += 2; continue; }                         // libjpeg's next_marker discards a stuffed FF 00
            if (marker == 0x01 || marker is >= 0xD0 and <= 0xD7) { i += 2; continue; }   // TEM, RSTn: no length
            if (i + 3 >= data.Length) return false;
            int length = (data[i + 2] << 8) | data[i + 3];
            if (!ImageJpegHeader.TablesRead(data, marker, i, length)) return false;
            var payload = data[Math.Min(i + 4, data.Length)..Math.Min(i + 2 + Math.Max(length, 2), data.Length)];
            i += length < 2 ? 4 : 2 + length;                                // libjpeg skips nothing for a length under 2
            if (ImageJpegHeader.IsFrame(marker)) frame = payload;
            if (marker == 0xDD && payload.Length == 2) restartInterval = (payload[0] << 8) | payload[1];  // DRI
            if (marker != 0xDA) continue;                                     // SOS: entropy-coded data follows
            // A sequential frame whose first scan holds every component has one scan: libjpeg raises at a second SOS
            // (JERR_EOI_EXPECTED, in the jpeg_finish_decompress that Pillow's decoder calls), where Skia gives the image.
            if (scans++ > 0 && singleScan is not null) return false;
            long intervals = ImageJpegHeader.RestartIntervals(frame, payload, restartInterval);
            for (int restarts = 0; ; i += 2)
            {
                while (i + 1 < data.Length && !(data[i] == 0xFF && data[i + 1] is not (0x00 or 0xFF)))
                    i++;                                                       // stuffed zeros; fill FFs before a marker
                if (i + 1 >= data.Length) break;
                if (data[i + 1] is >= 0xD0 and <= 0xD7) { restarts++; continue; }   // RSTn: the next interval
                if (data[i + 1] >= 0xC0) break;                                // the scan's data ends at this marker
                // An invalid marker (TEM, or a code under FFC0 that the data's damage made) in interval restarts + 1:
                // before the scan's last interval, jpeg_resync_to_restart passes over it at the next restart (action
                // 2) and the scan goes on; in the last interval, or without restarts, it is the marker read after it.
                if (restarts + 1 >= intervals) break;
            }
        }

        return false;
    }

    // One sequential scan: libjpeg gives every row once its entropy decoder meets a marker (the rows after it come from
    // zero bits, with a warning), or once it has decoded the last MCU without asking for a byte past the end of the
    // data (ImageJpegScanRun: where the data has no marker but restarts, or where a restart lets the decoder go on past
    // an invalid marker, jpeg_resync_to_restart); Pillow's decoder then has every row, and jpeg_finish_decompress may
    // stop for want of data without a complaint, as long as nothing it reads on the way raises.
    private static bool ReadsEveryRow(ReadOnlySpan<byte> data, int entropy)
    {
        if (FirstMarker(data, entropy) is not { } first)
        {
            return ImageJpegScanRun.DecodesEveryMcu(data, entropy, out _);
        }

        return EndsHarmlessly(data, first) || (ImageJpegScanRun.DecodesEveryMcu(data, entropy, out int after) && EndsHarmlessly(data, after));
    }

    // Where entropy-coded data from `start` first holds a marker that is not a restart: FF (after any fill FFs) and a
    // byte that is not 00 (a stuffed FF) nor D0-D7 (libjpeg's fill_bit_buffer stops at it; a restart resumes the scan).
    private static int? FirstMarker(ReadOnlySpan<byte> data, int start)
    {
        for (int i = start; i + 1 < data.Length; i++)
        {
            if (data[i] == 0xFF && data[i + 1] is not (0xFF or 0x00 or (>= 0xD0 and <= 0xD7)))
            {
                return i;
            }
        }

        return null;
    }

    // Whether the markers from `at` on are what jpeg_finish_decompress reads without raising, up to EOI or the end of
    // the data, where it suspends: APPn, COM and DNL segments (skipped; a length under 2 skips nothing), RSTn and TEM,
    // bytes between markers (a stuffed FF 00 among them), and a DQT, DHT, DRI or DAC that libjpeg-turbo reads whole or
    // that the data ends in before one of its checks fails (ImageJpegHeader.ReadTables); an SOS that the data ends in
    // before get_sos raises (ImageJpegHeader.ReadScanHeader; read whole, it is a second scan, which raises). Any other
    // marker raises (an SOI, an SOF, a table libjpeg raises on, an unknown marker), so the file is then judged as
    // before.
    private static bool EndsHarmlessly(ReadOnlySpan<byte> data, int at)
    {
        for (int i = at; ;)
        {
            while (i < data.Length && data[i] != 0xFF) i++;                   // next_marker skips garbage
            while (i + 1 < data.Length && data[i + 1] == 0xFF) i++;           // and fill bytes
            if (i + 1 >= data.Length) return true;                             // suspended
            byte marker = data[i + 1];
            if (marker == 0xD9) return true;
            if (marker is 0x00 or 0x01 or (>= 0xD0 and <= 0xD7)) { i += 2; continue; }   // next_marker drops FF 00
            if (marker == 0xDA) return ImageJpegHeader.ReadScanHeader(data, i, Frame(data)) == ImageJpegHeader.SegmentOutcome.RunsOut;
            bool skipped = marker is (>= 0xE0 and <= 0xEF) or 0xFE or 0xDC, table = marker is 0xC4 or 0xDB or 0xDD or 0xCC;
            if (!skipped && !table) return false;
            if (i + 4 > data.Length) return true;                              // suspended inside the length
            int length = (data[i + 2] << 8) | data[i + 3];
            var read = ImageJpegHeader.ReadTables(data, marker, i, length);
            if (read != ImageJpegHeader.SegmentOutcome.Read) return read == ImageJpegHeader.SegmentOutcome.RunsOut;
            i += 2 + Math.Max(length, 2);
            if (i >= data.Length) return true;
        }
    }

    // The payload of the SOF0 or SOF1 segment of a file with one frame.
    private static ReadOnlySpan<byte> Frame(ReadOnlySpan<byte> data)
    {
        var frame = ImageJpegHeader.SegmentsToScan(data, out _).Find(s => s.Marker is 0xC0 or 0xC1);
        return data.Slice(frame.Start, frame.Length);
    }

    private static unsafe byte[] GetPixels(SKCodec codec, SKImageInfo info, string sourceName)
    {
        var pixels = new byte[info.BytesSize64];
        SKCodecResult result;
        fixed (byte* p = pixels)
        {
            result = codec.GetPixels(info, (IntPtr)p);
        }

        return result switch
        {
            SKCodecResult.Success => pixels,
            SKCodecResult.IncompleteInput or SKCodecResult.ErrorInInput => throw new ImageDecodeException(
                $"Image '{sourceName}' is truncated or corrupt ({codec.EncodedFormat}, {info.Width}x{info.Height}): {result}."),
            _ => throw new ImageDecodeException(
                $"Image '{sourceName}' ({codec.EncodedFormat}, {info.Width}x{info.Height}) cannot be decoded to {info.ColorType}: {result}."),
        };
    }
}
