// config.json variants of the three tiny checkpoints against what transformers' from_pretrained made of each
// (Fixtures/config/cases.json, written by tools/reference/make_config_cases.py): the same logits, losses, gradients and
// ids where transformers loads the folder, a refusal naming the file where it refuses it, and a ConfigException naming
// the field where Blip.Engine deliberately refuses what transformers accepts ("engine_refuses").
using System.Text.Json;
using System.Text.Json.Nodes;
using Blip.Engine.Checkpoints;
using Blip.Engine.Config;
using Blip.Engine.Generation;
using Blip.Engine.Models;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Config;

[NonParallelizable]  // each case builds a model; the machine's cores are shared
public sealed class ConfigCaseTests
{
    private const double Atol = 1e-4;
    private const double Rtol = 1e-4;

    private static readonly Lazy<JsonDocument> Cases = new(() =>
        JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("config", "cases.json"))));

    private static JsonElement Root => Cases.Value.RootElement;

    private static IEnumerable<TestCaseData> AllCases()
    {
        var cases = Root.GetProperty("cases");
        for (int i = 0; i < cases.GetArrayLength(); i++)
        {
            var c = cases[i];
            string edits = string.Join(" ", new[] { "set", "delete", "drop" }
                .Where(k => c.TryGetProperty(k, out _)).Select(k => $"{k} {c.GetProperty(k).GetRawText()}"));
            yield return new TestCaseData(i).SetArgDisplayNames($"{i:D3} {c.GetProperty("model").GetString()} {edits}");
        }
    }

    [TestCaseSource(nameof(AllCases))]
    public void Variant_gives_what_transformers_gives(int index)
    {
        var c = Root.GetProperty("cases")[index];
        string model = c.GetProperty("model").GetString()!;
        var t = c.GetProperty("transformers");
        using var dir = TestPaths.NewTempDir();
        WriteFolder(c, model, dir.Path);
        string config = Path.Combine(dir.Path, "config.json");
        if (c.TryGetProperty("engine_refuses", out var refuses))
        {
            var e = Assert.Throws<ConfigException>(() => Load(model, dir.Path)?.Dispose(), $"engine_refuses: {refuses}");
            Assert.That((e!.File, e.Field), Is.EqualTo((config, refuses.GetProperty("field").GetString())), e.Message);
            return;
        }

        if (t.TryGetProperty("error", out var error))
        {
            var e = Assert.Catch(() => Load(model, dir.Path)?.Dispose(), $"transformers refused it: {error}");
            Assert.That(e, Is.InstanceOf<ConfigException>().Or.InstanceOf<CheckpointFormatException>(), e!.ToString());
            Assert.That(e.Message, Does.Contain(dir.Path), "the message names the file");
            return;
        }

        var expected = Root.GetProperty("outputs")[t.GetProperty("output").GetInt32()];
        using var scope = NewDisposeScope();
        using var tiny = new TinyFixtures();
        bool refusesGenerate = c.TryGetProperty("engine_refuses_generate", out _);
        void Run()
        {
            switch (model)
            {
                case "captioning": Captioning(dir.Path, expected, tiny, refusesGenerate); break;
                case "retrieval": Retrieval(dir.Path, expected, tiny); break;
                default: Vqa(dir.Path, expected, tiny, refusesGenerate); break;
            }
        }
        if (expected.TryGetProperty("forward_error", out var fe))
            ForwardFails(model, dir.Path, tiny, fe.ToString());
        else
            Run();
    }

    // transformers' forward failed (e.g. negative heads): refusing the folder at load is the same answer.
    private static void ForwardFails(string model, string folder, TinyFixtures tiny, string error)
    {
        nn.Module loaded;
        try
        {
            loaded = Load(model, folder)!;
        }
        catch (ConfigException)
        {
            return;
        }
        using var m = loaded;
        var pixels = tiny.Get("pixel_values");
        Assert.Catch(() =>
        {
            switch (m)
            {
                case BlipForConditionalGeneration cap:
                    var ids = tiny.Get("captioning.input_ids");
                    cap.Loss(cap.Forward(pixels, ids, tiny.Get("captioning.attention_mask")), ids);
                    break;
                case BlipForImageTextRetrieval ret:
                    using (var vision = ret.VisionModel.forward(pixels))
                        ret.ItcSimilarity(vision.LastHiddenState, tiny.Get("retrieval.input_ids"), tiny.Get("retrieval.attention_mask"));
                    break;
                case BlipForQuestionAnswering vqa:
                    using (var vision = vqa.VisionModel.forward(pixels))
                    {
                        var mask = tiny.Get("vqa.attention_mask");
                        var question = vqa.EncodeQuestion(vision.LastHiddenState, tiny.Get("vqa.input_ids"), mask);
                        vqa.Loss(vqa.AnswerLogits(question, mask, tiny.Get("vqa.labels")), tiny.Get("vqa.labels"));
                    }
                    break;
            }
        }, $"transformers' forward failed: {error}");
    }

    private static nn.Module? Load(string model, string folder) => model switch
    {
        "captioning" => BlipForConditionalGeneration.FromPretrained(folder),
        "retrieval" => BlipForImageTextRetrieval.FromPretrained(folder),
        _ => BlipForQuestionAnswering.FromPretrained(folder),
    };

    // The tiny folder's config.json with the case's keys deleted, then set (values copied as written, so 48.0 stays
    // a float), and its model.safetensors without the tensors whose names contain a "drop" substring.
    private static void WriteFolder(JsonElement c, string model, string folder)
    {
        string source = TinyFixtures.ModelFolder(model);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "config.json")))!.AsObject();
        if (c.TryGetProperty("delete", out var delete))
            foreach (var key in delete.EnumerateArray())
            {
                var (parent, last) = Walk(config, key.GetString()!);
                parent.Remove(last);
            }
        if (c.TryGetProperty("set", out var set))
            foreach (var p in set.EnumerateObject())
            {
                var (parent, last) = Walk(config, p.Name);
                parent[last] = JsonNode.Parse(p.Value.GetRawText());
            }
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString());
        string weights = Path.Combine(source, "model.safetensors");
        if (!c.TryGetProperty("drop", out var drop))
        {
            File.Copy(weights, Path.Combine(folder, "model.safetensors"));
            return;
        }
        var dropped = drop.EnumerateArray().Select(d => d.GetString()!).ToArray();
        using var scope = NewDisposeScope();
        using var file = SafeTensorsFile.Open(weights);
        var kept = file.Tensors.Keys.Where(k => !dropped.Any(k.Contains)).Select(k => KeyValuePair.Create(k, file.Load(k)));
        SafeTensorsWriter.Save(Path.Combine(folder, "model.safetensors"), kept.ToList());
    }

    private static (JsonObject Parent, string Last) Walk(JsonObject root, string dotted)
    {
        var parts = dotted.Split('.');
        var node = root;
        foreach (var p in parts[..^1]) node = node[p]!.AsObject();
        return (node, parts[^1]);
    }

    private static void Captioning(string folder, JsonElement expected, TinyFixtures tiny, bool refusesGenerate)
    {
        using var model = BlipForConditionalGeneration.FromPretrained(folder);
        AssertDtype(expected, model.parameters().First().dtype);
        var pixels = tiny.Get("pixel_values");
        var ids = tiny.Get("captioning.input_ids");
        var logits = model.Forward(pixels, ids, tiny.Get("captioning.attention_mask"));
        AssertClose(expected, "logits", Sample(logits, Root.GetProperty("samples").GetInt32()));
        var loss = model.Loss(logits, ids);
        AssertClose(expected, "loss", loss.reshape(1));
        loss.backward();
        AssertClose(expected, "grad", GradRows(model, "text_decoder.bert.embeddings.word_embeddings.weight"));
        AssertGenerate(expected, refusesGenerate, () => model.Generate(pixels, options: new GenerationOptions { MaxLength = 8 }));
    }

    private static void Retrieval(string folder, JsonElement expected, TinyFixtures tiny)
    {
        using var model = BlipForImageTextRetrieval.FromPretrained(folder);
        AssertDtype(expected, model.parameters().First().dtype);
        using var inference = inference_mode();
        var ids = tiny.Get("retrieval.input_ids");
        var mask = tiny.Get("retrieval.attention_mask");
        using var vision = model.VisionModel.forward(tiny.Get("pixel_values").to(model.parameters().First().dtype));
        AssertClose(expected, "itc", model.ItcSimilarity(vision.LastHiddenState, ids, mask));
        if (expected.TryGetProperty("itm_error", out var ie))
            Assert.Catch(() => model.ItmLogits(vision.LastHiddenState, ids, mask), ie.ToString());
        else
            AssertClose(expected, "itm", model.ItmLogits(vision.LastHiddenState, ids, mask));
    }

    private static void Vqa(string folder, JsonElement expected, TinyFixtures tiny, bool refusesGenerate)
    {
        using var model = BlipForQuestionAnswering.FromPretrained(folder);
        AssertDtype(expected, model.parameters().First().dtype);
        var pixels = tiny.Get("pixel_values");
        var ids = tiny.Get("vqa.input_ids");
        var mask = tiny.Get("vqa.attention_mask");
        var labels = tiny.Get("vqa.labels");
        Tensor Loss()
        {
            using var vision = model.VisionModel.forward(pixels.to(model.parameters().First().dtype));
            var question = model.EncodeQuestion(vision.LastHiddenState, ids, mask);
            return model.Loss(model.AnswerLogits(question, mask, labels), labels);
        }
        var loss = Loss();
        AssertClose(expected, "loss", loss.reshape(1));
        loss.backward();
        AssertClose(expected, "grad", GradRows(model, "text_encoder.embeddings.word_embeddings.weight"));
        AssertClose(expected, "decoder_grad", GradRows(model, "text_decoder.bert.embeddings.word_embeddings.weight"));
        AssertGenerate(expected, refusesGenerate, () => model.Generate(pixels, ids, mask, new GenerationOptions { MaxLength = 6 }));
    }

    private static void AssertDtype(JsonElement expected, ScalarType actual) =>
        Assert.That(actual.ToString(), Is.EqualTo(expected.GetProperty("dtype").GetString()).IgnoreCase, "dtype");

    private static void AssertGenerate(JsonElement expected, bool refuses, Func<GenerationResult> generate)
    {
        if (refuses)
        {
            var e = Assert.Throws<InvalidOperationException>(() => generate().Dispose());
            Assert.That(e!.Message, Does.Contain("does not implement"));
            return;
        }
        if (expected.TryGetProperty("generate_error", out var ge))
        {
            Assert.Catch(() => generate().Dispose(), $"transformers' generate() failed: {ge}");
            return;
        }
        using var result = generate();
        var rows = expected.GetProperty("generate").EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt64()).ToArray()).ToArray();
        var ids = tensor(rows.SelectMany(r => r).ToArray(), rows.Length, rows[0].Length);
        TensorAssert.Equal(ids, result.Sequences, "generate() ids");
    }

    private static void AssertClose(JsonElement expected, string name, Tensor actual)
    {
        var values = expected.GetProperty(name);
        static double Number(JsonElement v) => v.ValueKind == JsonValueKind.String
            ? double.Parse(v.GetString()!, System.Globalization.CultureInfo.InvariantCulture) : v.GetDouble();  // "NaN", "Infinity"
        double[] want = values.ValueKind == JsonValueKind.Array ? [.. values.EnumerateArray().Select(Number)] : [Number(values)];
        TensorAssert.AllClose(tensor(want), actual.detach().to(ScalarType.Float64).reshape(-1), Atol, Rtol, name);
    }

    // np.linspace(0, n - 1, count).round() over the flattened tensor, as make_config_cases.py samples it.
    private static Tensor Sample(Tensor t, int count)
    {
        long n = t.numel();
        var idx = Enumerable.Range(0, count).Select(i => (long)Math.Round(i * (double)(n - 1) / (count - 1), MidpointRounding.ToEven)).ToArray();
        return t.reshape(-1).index_select(0, tensor(idx));
    }

    private static Tensor GradRows(nn.Module model, string parameter)
    {
        var weight = model.named_parameters().Single(p => p.name == parameter).parameter;
        var rows = Root.GetProperty("grad_rows").EnumerateArray().Select(r => r.GetInt64())
            .Append(weight.shape[0] - Root.GetProperty("grad_rows_last").GetInt64()).ToArray();
        int cols = Root.GetProperty("grad_cols").GetInt32();
        return weight.grad!.index_select(0, tensor(rows)).narrow(1, 0, cols);
    }
}
