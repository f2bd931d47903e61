using System.Text.Json;
using Blip.Cli;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Cli;

/// <summary>The `blip` command's contract: options, output formats, exit codes.</summary>
[NonParallelizable]
public class CliTests
{
    private static string Tiny(params string[] parts) => TestPaths.Fixture(["tiny", .. parts]);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Test]
    public void Root_help_lists_every_command_finetune_included()
    {
        var (code, output, _) = Run("--help");
        Assert.That(code, Is.EqualTo(0));
        foreach (string command in new[] { "caption", "match", "rank", "vqa", "download", "finetune" })
            Assert.That(output, Does.Match($@"(?m)^\s+{command}\b"), command);
    }

    [Test]
    public void Caption_json_has_image_caption_and_full_token_ids_as_generate_returns_them()
    {
        using var fixtures = new TinyFixtures();
        var (code, output, error) = Run("caption", Tiny("images", "rgb.png"), Tiny("images", "gray.jpg"), "--model", Tiny("captioning"), "--format", "json", "--batch-size", "2");
        Assert.That(code, Is.EqualTo(0), error);
        using var json = JsonDocument.Parse(output);
        var items = json.RootElement.EnumerateArray().ToList();
        Assert.That(items, Has.Count.EqualTo(2));
        Assert.That(items[0].GetProperty("image").GetString(), Does.EndWith("rgb.png"));
        Assert.That(items[0].GetProperty("caption").ValueKind, Is.EqualTo(JsonValueKind.String));
        var expected = fixtures.Get("captioning.generate.greedy")[1].data<long>().ToArray().Where(id => id != 0);
        Assert.That(items[1].GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt64()), Is.EqualTo(expected));
    }

    [Test]
    public void Caption_of_a_folder_streams_jsonl_and_reports_progress_on_stderr()
    {
        var (code, output, error) = Run("caption", Tiny("images"), "--model", Tiny("captioning"), "--format", "jsonl", "--beams", "2", "--max-length", "8");
        Assert.That(code, Is.EqualTo(0), error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(3));
        Assert.That(lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("token_ids").GetArrayLength()), Has.All.LessThanOrEqualTo(8));
        Assert.That(error, Does.Contain("[3/3]"));
    }

    [Test]
    public void Match_json_has_logits_probability_and_cosine()
    {
        var (code, output, error) = Run("match", Tiny("images", "rgb.png"), "--text", "a dog", "--text", "two cats", "--model", Tiny("retrieval"), "--format", "json");
        Assert.That(code, Is.EqualTo(0), error);
        var items = JsonDocument.Parse(output).RootElement.EnumerateArray().ToList();
        Assert.That(items, Has.Count.EqualTo(2));
        foreach (var item in items)
        {
            Assert.That(item.GetProperty("itm_logits").GetArrayLength(), Is.EqualTo(2));
            var p = item.GetProperty("itm_probability").GetDouble();
            Assert.That(p, Is.InRange(0, 1));
            Assert.That(item.GetProperty("cosine").GetDouble(), Is.InRange(-1, 1));
            Assert.That(item.GetProperty("text").GetString(), Is.AnyOf("a dog", "two cats"));
        }
    }

    [Test]
    public void Rank_and_vqa_run()
    {
        var rank = Run("rank", "--images", Tiny("images"), "--text", "a dog", "--model", Tiny("retrieval"), "--top-k", "2");
        Assert.That(rank.Code, Is.EqualTo(0), rank.Err);
        Assert.That(rank.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(3));
        var vqa = Run("vqa", Tiny("images", "gray.jpg"), "--question", "What colour is the café's umbrella?", "--model", Tiny("vqa"));
        Assert.That(vqa.Code, Is.EqualTo(0), vqa.Err);
    }

    [TestCase("caption")]
    [TestCase("caption", "x.png", "--beams", "0")]
    [TestCase("caption", "x.png", "--beams", "100000")]
    [TestCase("caption", "x.png", "--beams", "abc")]           // a validated option whose token does not parse
    [TestCase("caption", "x.png", "--top-p", "1e")]
    [TestCase("caption", "x.png", "--batch-size", "x")]
    [TestCase("caption", "x.png", "--format", "xml")]
    [TestCase("caption", "x.png", "--device", "tpu")]
    [TestCase("caption", "x.png", "--device", "cuda:")]
    [TestCase("caption", "x.png", "--device", "cuda:abc")]
    [TestCase("caption", "x.png", "--bogus")]                 // an unknown option, not an image called "--bogus"
    [TestCase("caption", "x.png", "--max-length", "1")]       // bos alone is 1: nothing could follow
    [TestCase("caption", "x.png", "--max-new-tokens", "0")]
    [TestCase("vqa", "-q", "--question", "why?")]
    [TestCase("match", "x.png")]
    [TestCase("rank", "--images", "x", "--text", "a dog", "--top-k", "-1")]
    [TestCase("download", "")]
    [TestCase("frobnicate")]
    public void Usage_errors_exit_2(params string[] args)
    {
        var model = args[0] switch { "caption" => "captioning", "vqa" => "vqa", _ => "retrieval" };
        var all = args.Concat(args.Length > 1 && args[0] != "download" ? new[] { "--model", Tiny(model) } : []).ToArray();
        var (code, _, error) = Run(all);
        Assert.That(code, Is.EqualTo(2), error);
        Assert.That(error, Does.StartWith("blip: "));
    }

    [TestCase("--temperature", "0.5")]
    [TestCase("--top-k", "3")]
    [TestCase("--top-p", "0.9")]
    [TestCase("--seed", "1")]
    [TestCase("--max-length", "5", "--max-new-tokens", "3")]
    public void An_option_that_would_change_nothing_is_a_usage_error(params string[] args)
    {
        var (code, output, error) = Run(["caption", Tiny("images", "rgb.png"), "--model", Tiny("captioning"), .. args]);
        Assert.That((code, output), Is.EqualTo((2, "")), error);
        Assert.That(error, Does.StartWith("blip: ").And.Contain(args[0]));
        var (sampled, _, sampleError) = Run(["caption", Tiny("images", "rgb.png"), "--model", Tiny("captioning"), "--sample", .. args.Take(2)]);
        Assert.That(sampled, Is.EqualTo(0), $"with --sample (and one limit) it runs: {sampleError}");
    }

    [TestCase("caption", "captioning", "--prompt", "a photo of")]
    [TestCase("vqa", "vqa", "--question", "what is it?")]
    public void Max_new_tokens_counts_the_tokens_after_bos_and_prompt(string command, string model, string option, string text)
    {
        string image = Tiny("images", "rgb.png");
        // --min-length keeps the end token out, so both limits are reached.
        var (code, output, error) = Run(command, image, "--model", Tiny(model), option, text, "--max-new-tokens", "3", "--min-length", "30", "--format", "json");
        Assert.That(code, Is.EqualTo(0), error);
        var (longCode, longOutput, longError) = Run(command, image, "--model", Tiny(model), option, text, "--max-new-tokens", "6", "--min-length", "30", "--format", "json");
        Assert.That(longCode, Is.EqualTo(0), longError);
        int Ids(string json)
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement[0].GetProperty("token_ids").GetArrayLength();
        }
        Assert.That(Ids(longOutput) - Ids(output), Is.EqualTo(3), $"{output} / {longOutput}");
    }

    /// <summary>A length limit on the command line replaces the checkpoint's of the other kind: min_new_tokens wins over
    /// min_length in transformers (generate(min_length=10, min_new_tokens=1) ends gray.jpg's caption after 4 ids, as
    /// if min_length were unset), so --min-length over a generation_config.json with min_new_tokens changed nothing.</summary>
    [TestCase("min_new_tokens", "--min-length", "10")]
    [TestCase("min_length", "--min-length", "10")]
    [TestCase("max_new_tokens", "--max-length", "8")]
    [TestCase("max_length", "--max-new-tokens", "7")]
    public void A_length_limit_on_the_command_line_replaces_the_checkpoints(string key, string option, string value)
    {
        using var dir = TestPaths.NewTempDir();
        TestPaths.CopyFiles(Tiny("captioning"), dir.Path);
        File.WriteAllText(Path.Combine(dir.Path, "generation_config.json"), $$"""{"{{key}}": 1}""");
        string image = Tiny("images", "gray.jpg");
        var (code, output, error) = Run("caption", image, "--model", dir.Path, option, value, "--format", "json");
        Assert.That(code, Is.EqualTo(0), error);
        var (plainCode, plain, plainError) = Run("caption", image, "--model", Tiny("captioning"), option, value, "--format", "json");
        Assert.That(plainCode, Is.EqualTo(0), plainError);
        Assert.That(output, Is.EqualTo(plain), $"{option} {value} as without the checkpoint's {key}");
    }

    [Test]
    public void A_glob_means_what_the_shell_means_by_it()
    {
        using var dir = TestPaths.NewTempDir();
        foreach (string name in new[] { "a.png", "a1.png", "a12.png", "noext", ".hidden.png", "._a.png" }) File.WriteAllText(Path.Combine(dir.Path, name), "");
        string[] Names(string pattern) => ImageInputs.Expand([Path.Combine(dir.Path, pattern)], out _).Select(Path.GetFileName).ToArray()!;
        Assert.That(Names("a?.png"), Is.EqualTo(new[] { "a1.png" }));
        Assert.That(Names("a??.png"), Is.EqualTo(new[] { "a12.png" }));
        Assert.That(Names("*.*"), Is.EqualTo(new[] { "a.png", "a1.png", "a12.png" }));
        Assert.That(Names("a*"), Is.EqualTo(new[] { "a.png", "a1.png", "a12.png" }));
        // * and ? never match a leading '.' (macOS's ._a.png is no image); a pattern that starts with '.' does
        Assert.That(Names("*.png"), Is.EqualTo(new[] { "a.png", "a1.png", "a12.png" }));
        Assert.Throws<FileNotFoundException>(() => Names("?_a.png"), "? does not match the leading '.' of ._a.png");
        Assert.That(Names(".*.png"), Is.EqualTo(new[] { "._a.png", ".hidden.png" }));
        Assert.That(ImageInputs.Expand([dir.Path], out _).Select(Path.GetFileName), Is.EqualTo(new[] { "a.png", "a1.png", "a12.png" }), "a folder leaves dot-files out too");
    }

    [Test]
    public void A_checkpoint_of_another_task_is_one_line_naming_its_architecture_and_three_keys_a_group()
    {
        // The message lists 20 keys a group, one a line; flattened, that was one line of 40 key names.
        var (code, output, error) = Run("caption", Tiny("images", "rgb.png"), "--model", Tiny("retrieval"));
        Assert.That((code, output), Is.EqualTo((1, "")), error);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), error);
        Assert.That(lines[0], Does.StartWith("blip: error: ").And.Contain("architectures [BlipForImageTextRetrieval]").And.Contain("blip match")
            .And.Contain("missing from the file (61): text_decoder.bert.embeddings.word_embeddings.weight, ").And.Contain(", ... and 58 more; unexpected in the file (62): "));
        Assert.That(lines[0], Does.Not.Contain("text_decoder.bert.embeddings.LayerNorm.bias"), "the fourth missing key is left to --verbose");
    }

    [Test]
    public void A_closed_stderr_loses_progress_and_errors_but_not_results_or_the_exit_code()
    {
        using var stdout = new StringWriter();
        using var closed = new ClosedWriter();
        int code = CliApp.Run(["caption", Tiny("images"), "--model", Tiny("captioning")], stdout, closed);
        Assert.That(code, Is.EqualTo(0));
        Assert.That(stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(3));
        Assert.That(closed.Attempts, Is.GreaterThan(0), "progress was written (and lost)");
        Assert.That(CliApp.Run(["caption", "/no/such.png", "--model", Tiny("captioning")], stdout, closed), Is.EqualTo(1));
        Assert.That(CliApp.Run(["caption", "x.png", "--beams", "0"], stdout, closed), Is.EqualTo(2));
    }

    [Test]
    public void A_closed_stdout_fails_with_exit_1_naming_it()
    {
        using var closed = new ClosedWriter();
        using var stderr = new StringWriter();
        int code = CliApp.Run(["caption", Tiny("images", "rgb.png"), "--model", Tiny("captioning")], closed, stderr);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stderr.ToString(), Does.Contain("cannot write the results to standard output"));
    }

    [TestCase("--help")]
    [TestCase("--version")]
    [TestCase("caption", "--help")]
    [TestCase("finetune", "--help")]
    [TestCase("finetune")]
    public void Help_with_a_closed_stdout_fails_with_exit_1_in_one_line(params string[] args)
    {
        using var closed = new ClosedWriter();
        using var stderr = new StringWriter();
        int code = CliApp.Run(args, closed, stderr);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stderr.ToString().TrimEnd(), Does.Not.Contain('\n').And.Contain("standard output"), stderr.ToString());
    }

    [Test, CancelAfter(120_000)]
    public void A_reader_that_closes_the_pipe_stops_the_command_with_exit_1()
    {
        // blip caption DIR | head -n 0: the reader is gone before the first result.
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "blip.dll"), "caption", Tiny("images"), "--model", Tiny("captioning"), "--format", "jsonl" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var blip = System.Diagnostics.Process.Start(start)!;
        blip.StandardOutput.Close();
        string error = blip.StandardError.ReadToEnd();
        blip.WaitForExit();
        Assert.That(blip.ExitCode, Is.EqualTo(1), error);
        Assert.That(error, Does.Contain("cannot write the results to standard output"));
        Assert.That(error, Does.Not.Contain("[1/"), "it stopped at the first result, before any progress line");
    }

    /// <summary><c>{ echo before; blip match ...; echo after; } &gt; FILE</c>: every writer shares the file's offset, so
    /// blip must move it past its results. A FileStream on descriptor 1 writes a seekable file at its own position
    /// (pwrite) and leaves the shared offset where it found it: "after" then overwrote the first bytes of the results,
    /// and a second blip command in the same redirection overwrote the first one's.</summary>
    [Test, CancelAfter(120_000)]
    [Platform(Exclude = "Win", Reason = "a POSIX shell's redirection; on Windows blip writes through Console.Out")]
    public void Results_redirected_to_a_file_with_other_commands_follow_and_precede_their_output()
    {
        using var dir = TestPaths.NewTempDir();
        string file = Path.Combine(dir.Path, "out.txt");
        string blip = $"dotnet '{Path.Combine(AppContext.BaseDirectory, "blip.dll")}' match '{Tiny("images", "rgb.png")}' --model '{Tiny("retrieval")}'";
        var start = new System.Diagnostics.ProcessStartInfo("/bin/sh")
        {
            ArgumentList = { "-c", $"{{ echo before; {blip} --text 'a dog'; {blip} --text 'two cats'; echo after; }} > '{file}'" },
            RedirectStandardError = true,
        };
        using var shell = System.Diagnostics.Process.Start(start)!;
        string error = shell.StandardError.ReadToEnd();
        shell.WaitForExit();
        Assert.That(shell.ExitCode, Is.EqualTo(0), error);
        var lines = File.ReadAllLines(file);
        Assert.That(lines, Has.Length.EqualTo(4), string.Join("\n", lines));
        Assert.That(lines[0], Is.EqualTo("before"));
        Assert.That(lines[1], Does.EndWith("\ta dog"));
        Assert.That(lines[2], Does.EndWith("\ttwo cats"));
        Assert.That(lines[3], Is.EqualTo("after"));
    }

    /// <summary>Standard error closed by the shell (<c>2&gt;&amp;-</c>): every write fails as .NET's console does.</summary>
    private sealed class ClosedWriter : TextWriter
    {
        public int Attempts { get; private set; }

        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void Write(char value)
        {
            Attempts++;
            throw new IOException("Bad file descriptor");
        }
    }

    [TestCase("caption", "x.png")]
    [TestCase("match", "x.png", "--text", "a dog")]
    public void An_empty_model_is_a_usage_error(params string[] args)
    {
        var (code, _, error) = Run([.. args, "--model", " "]);
        Assert.That(code, Is.EqualTo(2), error);
        Assert.That(error, Does.Contain("--model"));
    }

    [Test]
    public void Finetune_is_dispatched_to_its_command()
    {
        var (code, _, error) = Run("finetune", "caption");
        Assert.That(code, Is.EqualTo(2), "missing --model/--train/--output is a usage error");
        Assert.That(error, Does.Contain("--model").Or.Contain("--train").Or.Contain("--output"));
    }

    [Test]
    public void Failures_exit_1_with_one_line_unless_verbose()
    {
        var (code, _, error) = Run("caption", "/no/such.png", "--model", Tiny("captioning"));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(error, Does.Contain("/no/such.png"));
        var verbose = Run("caption", Tiny("images", "rgb.png"), "--model", "/no/such/model/folder", "--verbose");
        Assert.That(verbose.Code, Is.EqualTo(1));
        Assert.That(verbose.Err, Does.Contain("   at "), "stack trace with --verbose");
    }

    [Test]
    public void Offline_with_nothing_cached_says_what_to_do()
    {
        using var cache = TestPaths.NewTempDir();
        var saved = (Environment.GetEnvironmentVariable("HF_HUB_OFFLINE"), Environment.GetEnvironmentVariable("HF_HUB_CACHE"));
        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", cache.Path);
        try
        {
            var (code, _, error) = Run("caption", Tiny("images", "rgb.png"));
            Assert.That(code, Is.EqualTo(1));
            Assert.That(error, Does.Contain("Salesforce/blip-image-captioning-large").And.Contain("HF_HUB_OFFLINE"));
        }
        finally
        {
            Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", saved.Item1);
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", saved.Item2);
        }
    }

    // The main job as a user runs it: `blip caption` with its default model id, offline, from a cache in
    // huggingface_hub's layout (snapshot files are links to blobs) that an earlier download filled.
    [Test, CancelAfter(120_000)]
    public async Task Caption_with_the_default_model_from_a_filled_Hub_cache_offline(CancellationToken ct)
    {
        using var cache = TestPaths.NewTempDir();
        using (var hub = new Hub.FakeHub())
        {
            hub.AddRepo(Hub.HubModelTests.TinyCaptioningRepo("Salesforce/blip-image-captioning-large", sharded: false, cache.Path));
            using var resolver = new Blip.Engine.Checkpoints.HubModelResolver();
            var options = new Blip.Engine.Checkpoints.HubOptions { Endpoint = hub.Endpoint, CacheDir = Path.Combine(cache.Path, "hub") };
            await resolver.ResolveModelFolderAsync("Salesforce/blip-image-captioning-large", options, null, ct);
        }
        using var fixtures = new TinyFixtures();
        var saved = (Environment.GetEnvironmentVariable("HF_HUB_OFFLINE"), Environment.GetEnvironmentVariable("HF_HUB_CACHE"));
        Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", "1");
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", Path.Combine(cache.Path, "hub"));
        try
        {
            // --max-length 20: the fixture's kwargs (max_length 20), not the default of 20 new tokens
            var (code, output, error) = Run("caption", Tiny("images", "rgb.png"), Tiny("images", "gray.jpg"), "--format", "json", "--max-length", "20");
            Assert.That(code, Is.EqualTo(0), error);
            using var json = JsonDocument.Parse(output);
            var items = json.RootElement.EnumerateArray().ToList();
            for (int row = 0; row < 2; row++)
            {
                var expected = fixtures.Get("captioning.generate.greedy")[row].data<long>().ToArray().Where(id => id != 0);
                Assert.That(items[row].GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt64()), Is.EqualTo(expected), $"image {row}");
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable("HF_HUB_OFFLINE", saved.Item1);
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", saved.Item2);
        }
    }
}
