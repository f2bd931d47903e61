using System.Text.Encodings.Web;
using System.Text.Json;

namespace Blip.Cli;

/// <summary>Streams results as they finish: text lines, one JSON array written element by element, or JSON lines.</summary>
public sealed class ResultWriter : IDisposable
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly TextWriter output;
    private readonly string format;
    private int count;

    public ResultWriter(TextWriter output, string format)
    {
        this.output = output;
        this.format = format;
        if (format == "json") Checked(() => output.Write('['));
    }

    /// <summary>Writes one result: <paramref name="text"/> in text format, <paramref name="record"/> as JSON otherwise.</summary>
    public void Write(string text, object record) => Checked(() => WriteRecord(text, record));

    private void WriteRecord(string text, object record)
    {
        switch (format)
        {
            case "json":
                output.Write(count == 0 ? "\n  " : ",\n  ");
                output.Write(JsonSerializer.Serialize(record, Json));
                break;
            case "jsonl":
                output.WriteLine(JsonSerializer.Serialize(record, Json));
                break;
            default:
                output.WriteLine(text);
                break;
        }
        count++;
        output.Flush();
    }

    public void Dispose() => Checked(() =>
    {
        if (format == "json") output.WriteLine(count == 0 ? "]" : "\n]");
        output.Flush();
    });

    // .NET reports a closed standard output as "Access to the path is denied"; say which output failed.
    private static void Checked(Action write)
    {
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write the results to standard output: {e.Message}", e);
        }
    }
}
