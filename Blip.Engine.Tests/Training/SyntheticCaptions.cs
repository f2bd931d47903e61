// A synthetic captioning task for the training tests: coloured squares on noise, captioned "a <colour> shape", and a
// tiny random model (64 px images, patch 16) whose vocabulary knows the colour words.
using System.Text.Json;
using System.Text.Json.Nodes;
using Blip.Engine.Config;
using Blip.Engine.Models;
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;

namespace Blip.Engine.Tests.Training;

internal static class SyntheticCaptions
{
    public static readonly string[] Colours = ["red", "green", "blue", "yellow"];

    private static readonly byte[][] Rgb = [[220, 30, 30], [30, 190, 40], [40, 50, 220], [230, 210, 30]];

    /// <summary>Writes a model folder: the tiny captioning fixture's files with 64 px images, a 64-wide text model, the
    /// colour words in place of [unused0..4], and freshly initialised weights (seeded).</summary>
    public static string MakeModelFolder(string folder, long seed = 7) => MakeFolder(folder, "captioning", seed);

    /// <summary>As <see cref="MakeModelFolder"/>, for the retrieval model (from the tiny retrieval fixture).</summary>
    public static string MakeRetrievalFolder(string folder, long seed = 7) => MakeFolder(folder, "retrieval", seed);

    private static string MakeFolder(string folder, string kind, long seed)
    {
        Directory.CreateDirectory(folder);
        string tiny = TinyFixtures.ModelFolder(kind);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(tiny, "config.json")))!;
        config["vision_config"]!["image_size"] = 64;
        var text = config["text_config"]!;
        text["hidden_size"] = 64;
        text["intermediate_size"] = 128;
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        var processor = JsonNode.Parse(File.ReadAllText(Path.Combine(tiny, "processor_config.json")))!;
        processor["image_processor"]!["size"] = new JsonObject { ["height"] = 64, ["width"] = 64 };
        File.WriteAllText(Path.Combine(folder, "processor_config.json"), processor.ToJsonString());
        var vocab = File.ReadAllLines(Path.Combine(tiny, "vocab.txt"));
        string[] words = [.. Colours, "shape"];
        for (int i = 0; i < words.Length; i++) vocab[1 + i] = words[i]; // lines 1.. are [unusedN]
        File.WriteAllLines(Path.Combine(folder, "vocab.txt"), vocab);
        File.Copy(Path.Combine(tiny, "tokenizer_config.json"), Path.Combine(folder, "tokenizer_config.json"));
        torch.manual_seed(seed);
        using TorchSharp.torch.nn.Module model = kind == "captioning"
            ? new BlipForConditionalGeneration(BlipConfig.Load(folder))
            : new BlipForImageTextRetrieval(BlipConfig.Load(folder));
        ModelParameters.InitializeRandom(model);
        HubExport.Save(model, folder, folder);
        return folder;
    }

    /// <summary>Writes <paramref name="perColour"/> images of each colour and a JSONL file naming them; returns its path.</summary>
    public static string MakeDataset(string folder, string name, int perColour, int seed)
    {
        Directory.CreateDirectory(Path.Combine(folder, name));
        var rng = new Random(seed);
        var lines = new List<string>();
        for (int i = 0; i < perColour; i++)
            for (int c = 0; c < Colours.Length; c++)
            {
                string file = $"{name}/{Colours[c]}_{i}.bmp";
                File.WriteAllBytes(Path.Combine(folder, file), Bmp(Image(Rgb[c], rng), 64, 64));
                lines.Add(JsonSerializer.Serialize(new { image = file, caption = $"a {Colours[c]} shape" }));
            }
        string path = Path.Combine(folder, name + ".jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    /// <summary>64×64 RGB noise with a square of <paramref name="colour"/> (side 20–36, anywhere).</summary>
    private static byte[] Image(byte[] colour, Random rng)
    {
        var rgb = new byte[64 * 64 * 3];
        rng.NextBytes(rgb);
        int side = rng.Next(20, 37), x0 = rng.Next(0, 64 - side), y0 = rng.Next(0, 64 - side);
        for (int y = y0; y < y0 + side; y++)
            for (int x = x0; x < x0 + side; x++)
                for (int k = 0; k < 3; k++) rgb[(y * 64 + x) * 3 + k] = (byte)Math.Clamp(colour[k] + rng.Next(-15, 16), 0, 255);
        return rgb;
    }

    /// <summary>An uncompressed 24-bit BMP (rows bottom-up, BGR; 64 px rows need no padding).</summary>
    private static byte[] Bmp(byte[] rgb, int width, int height)
    {
        int pixelBytes = width * height * 3;
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write((byte)'B'); w.Write((byte)'M'); w.Write(54 + pixelBytes); w.Write(0); w.Write(54);
        w.Write(40); w.Write(width); w.Write(height); w.Write((short)1); w.Write((short)24); w.Write(0); w.Write(pixelBytes);
        w.Write(2835); w.Write(2835); w.Write(0); w.Write(0);
        for (int y = height - 1; y >= 0; y--)
            for (int x = 0; x < width; x++)
            {
                int i = (y * width + x) * 3;
                w.Write(rgb[i + 2]); w.Write(rgb[i + 1]); w.Write(rgb[i]);
            }
        w.Flush();
        return ms.ToArray();
    }
}
