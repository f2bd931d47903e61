// The image settings of a BLIP processor, from preprocessor_config.json (older Hub saves) or the
// "image_processor" object nested in processor_config.json (transformers 5).
using System.Text.Json;

namespace Blip.Engine.Config;

/// <summary>
/// Settings of transformers' <c>BlipImageProcessor</c>. Defaults equal its class defaults:
/// 384×384, bicubic, rescale 1/255, normalize with the OpenAI CLIP mean/std, convert to RGB.
/// </summary>
/// <remarks>
/// Read with <see cref="Load"/>, which follows transformers' <c>ImageProcessingMixin.get_image_processor_dict</c>:
/// the nested <c>image_processor</c> object of <c>processor_config.json</c> wins, else
/// <c>preprocessor_config.json</c>. Keys this processor does not use (<c>image_processor_type</c>,
/// <c>processor_class</c>, ...) are ignored; keys that would change transformers' output in ways not implemented here
/// (<c>do_center_crop</c>, <c>do_pad</c> with a <c>pad_size</c>, <c>default_to_square</c> false) are refused. An integer
/// <c>size</c> means a square and a list <c>[H, W]</c>, as in transformers. A flag set to
/// <c>null</c> is off (transformers tests it for truth); a <c>null</c> value that an enabled flag needs is refused.
/// </remarks>
public sealed record ImageProcessorConfig
{
    /// <summary>The file name transformers 5 writes for a whole processor.</summary>
    public const string ProcessorFileName = "processor_config.json";

    /// <summary>The file name older saves (and image processors saved alone) use.</summary>
    public const string PreprocessorFileName = "preprocessor_config.json";

    /// <summary>PIL's <c>Image.Resampling.BICUBIC</c>, the only resample value supported.</summary>
    public const int BicubicResample = 3;

    /// <summary>Output height in pixels (<c>size.height</c>). Default 384.</summary>
    public int Height { get; init; } = 384;

    /// <summary>Output width in pixels (<c>size.width</c>). Default 384.</summary>
    public int Width { get; init; } = 384;

    /// <summary>Whether to resize (<c>do_resize</c>). Default true.</summary>
    public bool DoResize { get; init; } = true;

    /// <summary>PIL resample filter id (<c>resample</c>); only 3 (bicubic) is supported. Default 3.</summary>
    public int Resample { get; init; } = BicubicResample;

    /// <summary>Whether to multiply by <see cref="RescaleFactor"/> (<c>do_rescale</c>). Default true.</summary>
    public bool DoRescale { get; init; } = true;

    /// <summary>The rescale factor (<c>rescale_factor</c>). Default 1/255.</summary>
    public double RescaleFactor { get; init; } = 1.0 / 255;

    /// <summary>Whether to normalize with mean/std (<c>do_normalize</c>). Default true.</summary>
    public bool DoNormalize { get; init; } = true;

    /// <summary>Per-channel mean (<c>image_mean</c>). Default OpenAI CLIP's.</summary>
    public IReadOnlyList<double> ImageMean { get; init; } = [0.48145466, 0.4578275, 0.40821073];

    /// <summary>Per-channel standard deviation (<c>image_std</c>). Default OpenAI CLIP's.</summary>
    public IReadOnlyList<double> ImageStd { get; init; } = [0.26862954, 0.26130258, 0.27577711];

    /// <summary>Whether to convert to RGB (<c>do_convert_rgb</c>). Default true.</summary>
    public bool DoConvertRgb { get; init; } = true;

    /// <summary>transformers' <c>BlipImageProcessor()</c> defaults.</summary>
    public static ImageProcessorConfig Default { get; } = new();

    /// <summary>Reads a model folder (or one of the two JSON files) and validates it.</summary>
    /// <exception cref="FileNotFoundException">The folder has neither file.</exception>
    /// <exception cref="ConfigException">The JSON is malformed or a field is invalid; the exception names the file and field.</exception>
    public static ImageProcessorConfig Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (File.Exists(path))
        {
            return Parse(Utf8Text.Read(path), path);
        }

        string nested = Path.Combine(path, ProcessorFileName), flat = Path.Combine(path, PreprocessorFileName);
        if (File.Exists(nested))
        {
            using var doc = ParseDocument(Utf8Text.Read(nested), nested);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("image_processor", out var inner))
            {
                return FromJson(inner, nested + ":image_processor");
            }
        }

        if (File.Exists(flat))
        {
            return Parse(Utf8Text.Read(flat), flat);
        }

        throw new FileNotFoundException(
            $"'{path}' has no {ProcessorFileName} with an \"image_processor\" object and no {PreprocessorFileName}.", flat);
    }

    /// <summary>Parses JSON text (flat, or a processor_config.json with a nested <c>image_processor</c>).</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="source">Names the text in error messages.</param>
    /// <exception cref="ConfigException">The JSON is malformed or a field is invalid.</exception>
    public static ImageProcessorConfig Parse(string json, string source = "<json>")
    {
        ArgumentNullException.ThrowIfNull(json);
        using var doc = ParseDocument(json, source);
        var root = doc.RootElement;
        return root.ValueKind == JsonValueKind.Object && root.TryGetProperty("image_processor", out var inner)
            ? FromJson(inner, source + ":image_processor")
            : FromJson(root, source);
    }

    /// <summary>Checks every field; returns this.</summary>
    /// <exception cref="ConfigException">A field is out of range; <see cref="ConfigException.Field"/> names it.</exception>
    public ImageProcessorConfig Validate(string source = "ImageProcessorConfig")
    {
        Require(Height > 0 && Width > 0, source, "size", $"height and width must be positive, got {Height}x{Width}");
        Require(Height <= ConfigLimits.MaxImageSide && Width <= ConfigLimits.MaxImageSide, source, "size",
            $"{Height}x{Width} is beyond any real checkpoint; Blip.Engine accepts at most {ConfigLimits.MaxImageSide} a side (ConfigLimits)");
        Require(Resample == BicubicResample, source, "resample",
            $"only {BicubicResample} (PIL BICUBIC) is supported, got {Resample}");
        Require(double.IsFinite(RescaleFactor) && RescaleFactor > 0, source, "rescale_factor", $"must be a positive number, got {RescaleFactor}");
        // The pixels are float32, as in transformers: a value that is finite or non-zero only as a double would
        // still give infinite pixels (a std of 1e-50 is 0 in float32, a mean of 1e39 is infinite).
        Require(float.IsFinite((float)(255 * RescaleFactor)), source, "rescale_factor", $"255 * {RescaleFactor} overflows float32");
        Require(ImageMean.Count == 3 && ImageMean.All(m => float.IsFinite((float)m)), source, "image_mean",
            $"must hold 3 numbers finite in float32, got {List(ImageMean)}");
        Require(ImageStd.Count == 3 && ImageStd.All(s => float.IsFinite((float)s) && (float)s != 0), source, "image_std",
            $"must hold 3 numbers finite and non-zero in float32, got {List(ImageStd)}");
        return this;
    }

    private static string List(IReadOnlyList<double> values) =>
        "[" + string.Join(", ", values.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

    private static void Require(bool ok, string source, string field, string why)
    {
        if (!ok)
        {
            throw new ConfigException(source, field, why);
        }
    }

    private static JsonDocument ParseDocument(string json, string source)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new ConfigException(source, "", $"not valid JSON: {e.Message}", e);
        }
    }

    private static ImageProcessorConfig FromJson(JsonElement e, string source)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new ConfigException(source, "", $"expected a JSON object, got {e.ValueKind}");
        }

        var d = Default;
        // transformers sets each key as an attribute and tests the flags for truth, so a null flag is off, and a
        // null value that a flag which is on needs is refused (its "`size` and `resample` must be specified ...").
        bool resize = ReadBool(e, "do_resize", d.DoResize, source), rescale = ReadBool(e, "do_rescale", d.DoRescale, source);
        bool normalize = ReadBool(e, "do_normalize", d.DoNormalize, source);
        RequireNotNull(e, resize, "do_resize", source, "size", "resample");
        RequireNotNull(e, rescale, "do_rescale", source, "rescale_factor");
        RequireNotNull(e, normalize, "do_normalize", source, "image_mean", "image_std");
        var (height, width) = e.TryGetProperty("size", out var size) && size.ValueKind != JsonValueKind.Null
            ? ReadSize(size, source) : (d.Height, d.Width);
        RefuseUnimplemented(e, size.ValueKind == JsonValueKind.Number, source);
        return new ImageProcessorConfig
        {
            Height = height,
            Width = width,
            DoResize = resize,
            Resample = ReadInt(e, "resample", d.Resample, source),
            DoRescale = rescale,
            RescaleFactor = ReadDouble(e, "rescale_factor", d.RescaleFactor, source),
            DoNormalize = normalize,
            ImageMean = ReadTriple(e, "image_mean", d.ImageMean, source),
            ImageStd = ReadTriple(e, "image_std", d.ImageStd, source),
            DoConvertRgb = ReadBool(e, "do_convert_rgb", d.DoConvertRgb, source),
        }.Validate(source);
    }

    // Keys the PIL processor honours that would make its pixel_values differ from ours: refused, not ignored.
    private static void RefuseUnimplemented(JsonElement e, bool integerSize, string source)
    {
        Require(!integerSize || ReadBool(e, "default_to_square", true, source), source, "default_to_square",
            "is not true, so transformers reads the integer size as {\"shortest_edge\": N} (aspect ratio kept), which Blip.Engine does not implement");
        Require(!ReadBool(e, "do_center_crop", false, source), source, "do_center_crop",
            "is true: transformers then crops to crop_size after resizing, which Blip.Engine does not implement");
        bool padSize = e.TryGetProperty("pad_size", out var pad) && pad.ValueKind != JsonValueKind.Null;
        // Without pad_size transformers pads to the batch's largest image: a no-op for one image or equal sizes, and
        // Preprocess refuses a batch of unequal ones.
        Require(!ReadBool(e, "do_pad", false, source) || !padSize, source, "do_pad",
            "is true with a pad_size: transformers then pads to it, which Blip.Engine does not implement");
    }

    private static void RequireNotNull(JsonElement e, bool flag, string flagName, string source, params string[] names)
    {
        foreach (var name in names)
        {
            Require(!flag || !e.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.Null, source, name,
                $"is null while {flagName} is on; transformers refuses that (\"must be specified if `{flagName}` is `True`\")");
        }
    }

    private static (int Height, int Width) ReadSize(JsonElement size, string source)
    {
        if (size.ValueKind == JsonValueKind.Number && size.TryGetInt32(out int square))
        {
            return (square, square);
        }

        if (size.ValueKind == JsonValueKind.Array && size.GetArrayLength() == 2
            && size[0].ValueKind == JsonValueKind.Number && size[0].TryGetInt32(out int rows)
            && size[1].ValueKind == JsonValueKind.Number && size[1].TryGetInt32(out int columns))
        {
            return (rows, columns); // [height, width], as transformers' get_size_dict reads a list
        }

        if (size.ValueKind == JsonValueKind.Object
            && size.TryGetProperty("height", out var h) && h.TryGetInt32(out int height)
            && size.TryGetProperty("width", out var w) && w.TryGetInt32(out int width))
        {
            return (height, width);
        }

        throw new ConfigException(source, "size",
            $"must be {{\"height\": H, \"width\": W}}, [H, W] or an integer, got {size.GetRawText()} (shortest_edge sizes are not BLIP's)");
    }

    // Absent: the class default. Null: off, as transformers' `if do_resize:` reads None.
    private static bool ReadBool(JsonElement e, string name, bool fallback, string source) =>
        !e.TryGetProperty(name, out var v) ? fallback
        : v.ValueKind == JsonValueKind.Null ? false
        : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean()
        : throw Bad(source, name, "a boolean", v);

    private static int ReadInt(JsonElement e, string name, int fallback, string source) =>
        !e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? fallback
        : v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i
        : throw Bad(source, name, "an integer", v);

    private static double ReadDouble(JsonElement e, string name, double fallback, string source) =>
        !e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? fallback
        : v.ValueKind == JsonValueKind.Number ? v.GetDouble()
        : throw Bad(source, name, "a number", v);

    private static IReadOnlyList<double> ReadTriple(JsonElement e, string name, IReadOnlyList<double> fallback, string source)
    {
        if (!e.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return fallback;
        }

        if (v.ValueKind == JsonValueKind.Number)
        {
            return [v.GetDouble(), v.GetDouble(), v.GetDouble()]; // a scalar applies to every channel, as in transformers
        }

        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.Number))
        {
            throw Bad(source, name, "an array of numbers", v);
        }

        return [.. v.EnumerateArray().Select(x => x.GetDouble())];
    }

    private static ConfigException Bad(string source, string field, string expected, JsonElement got) =>
        new(source, field, $"must be {expected}, got {got.GetRawText()}");
}
