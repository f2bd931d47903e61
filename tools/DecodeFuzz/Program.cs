// The Blip.Engine side of tools/reference/fuzz_decode.py: decodes every file of a fuzz folder with ImageDecoder.Decode
// and compares the outcome with what Pillow made of it (manifest.jsonl: the SHA-256 of the RGB bytes, or the error).
//   DecodeFuzz FOLDER [DISAGREEMENTS.jsonl]   (default FOLDER/disagreements.jsonl)
// Prints per format: files, agree, disagree, crash (an exception other than ImageDecodeException), hang (over 10 s);
// writes one JSON object per file that does not agree. Exit 0 when all agree, 1 otherwise, 2 on bad arguments.
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Blip.Engine.Processing;

if (args.Length is < 1 or > 2 || !File.Exists(Path.Combine(args[0], "manifest.jsonl")))
{
    Console.Error.WriteLine("usage: DecodeFuzz FOLDER [DISAGREEMENTS.jsonl]  (FOLDER holds manifest.jsonl and files/, "
        + "as tools/reference/fuzz_decode.py writes them)");
    return 2;
}

string folder = args[0], outPath = args.Length > 1 ? args[1] : Path.Combine(folder, "disagreements.jsonl");
var counts = new SortedDictionary<string, int[]>(StringComparer.Ordinal); // format -> files, agree, disagree, crash, hang
int disagreements = 0;
var clock = Stopwatch.StartNew();
using (var output = new StreamWriter(outPath))
{
    foreach (var line in File.ReadLines(Path.Combine(folder, "manifest.jsonl")))
    {
        using var doc = JsonDocument.Parse(line);
        var entry = doc.RootElement;
        string name = entry.GetProperty("name").GetString()!, format = entry.GetProperty("format").GetString()!;
        if (!counts.TryGetValue(format, out var count))
        {
            counts[format] = count = new int[5];
        }

        count[0]++;
        var data = File.ReadAllBytes(Path.Combine(folder, "files", name));
        string? pilSha = entry.TryGetProperty("decoded_sha256", out var sha) ? sha.GetString() : null;
        string? pilError = entry.TryGetProperty("error", out var error) ? error.GetString() : null;
        var decode = Task.Run(() =>
        {
            try
            {
                var image = ImageDecoder.Decode(data, name);
                return ("read", Convert.ToHexStringLower(SHA256.HashData(image.Pixels.Span)));
            }
            catch (ImageDecodeException e)
            {
                return ("refused", e.Message);
            }
#pragma warning disable CA1031 // a crash is what the fuzz looks for: it is counted, not thrown
            catch (Exception e)
#pragma warning restore CA1031
            {
                return ("crash", $"{e.GetType().Name}: {e.Message}");
            }
        });
        var (kind, detail) = decode.Wait(TimeSpan.FromSeconds(10)) ? decode.Result : ("hang", "");
        string verdict = (kind, pilSha, pilError) switch
        {
            ("read", { } expected, _) when expected == detail => "agree",
            ("refused", _, not null) => "agree",
            ("read", not null, _) => "pixels",
            ("read", null, _) => "engine_reads",
            ("refused", _, _) => "engine_refuses",
            _ => kind,
        };
        if (verdict == "agree")
        {
            count[1]++;
            continue;
        }

        count[verdict switch { "crash" => 3, "hang" => 4, _ => 2 }]++;
        disagreements++;
        output.WriteLine(JsonSerializer.Serialize(new { name, format, verdict, pil = pilError ?? "read", engine = kind == "read" ? "read" : detail }));
    }
}

foreach (var (format, c) in counts)
{
    Console.WriteLine($"{format}: files {c[0]} agree {c[1]} disagree {c[2]} crash {c[3]} hang {c[4]}");
}

Console.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s; disagreements in {outPath}");
return disagreements == 0 ? 0 : 1;
