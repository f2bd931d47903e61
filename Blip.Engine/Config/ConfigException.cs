namespace Blip.Engine.Config;

/// <summary>A configuration file that cannot be used; names the file and the field at fault.</summary>
public sealed class ConfigException : Exception
{
    /// <summary>Creates the exception for <paramref name="file"/> and <paramref name="field"/>.</summary>
    public ConfigException(string file, string field, string problem, Exception? inner = null)
        : base(string.IsNullOrEmpty(field) ? $"{file}: {problem}" : $"{file}: field '{field}': {problem}", inner)
    {
        File = file;
        Field = field;
    }

    /// <summary>The file (or source name) that was being read.</summary>
    public string File { get; }

    /// <summary>The JSON field at fault, e.g. <c>vision_config.patch_size</c>; empty when the whole file is at fault.</summary>
    public string Field { get; }

    internal static void RequirePositive(string file, string field, double value)
    {
        if (!(value > 0)) throw new ConfigException(file, field, $"must be positive, got {value}");
    }

    /// <summary>Requires a probability in [0, 1] (a dropout rate: libtorch refuses any other at the first forward).</summary>
    internal static void RequireProbability(string file, string field, double value)
    {
        if (!(value is >= 0 and <= 1)) throw new ConfigException(file, field, $"must be a probability in [0, 1], got {value}");
    }

    /// <summary>Requires 0 &lt; <paramref name="value"/> ≤ <paramref name="max"/> (one of <see cref="ConfigLimits"/>).</summary>
    internal static void RequireSize(string file, string field, long value, long max)
    {
        RequirePositive(file, field, value);
        if (value > max)
            throw new ConfigException(file, field, $"{value} is beyond any real checkpoint; Blip.Engine accepts at most {max} (ConfigLimits)");
    }
}
