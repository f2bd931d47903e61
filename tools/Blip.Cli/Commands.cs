using System.CommandLine;
using Blip.Engine.Checkpoints;
using Blip.Engine.Pipelines;

namespace Blip.Cli;

/// <summary>The subcommands. Each only parses, calls a pipeline and prints.</summary>
public static class Commands
{
    public const string CaptionModel = "Salesforce/blip-image-captioning-large";
    public const string MatchModel = "Salesforce/blip-itm-large-flickr";
    public const string VqaModel = "Salesforce/blip-vqa-base";

    public static Command Caption(TextWriter stdout, TextWriter stderr)
    {
        var images = new Argument<string[]>("images") { Description = "image files, folders or globs", Arity = ArgumentArity.OneOrMore };
        ImageInputs.RejectOptionLike(images);
        var prompt = new Option<string?>("--prompt") { Description = "text the caption starts with (conditional captioning)" };
        var batch = new Option<int>("--batch-size") { Description = "images per generate() call", DefaultValueFactory = _ => 1 };
        batch.Validators.Add(r => { if (GenerationCliOptions.TryValue<int>(r, out var size) && size < 1) r.AddError("--batch-size must be at least 1"); });
        var common = new CommonOptions(CaptionModel);
        var generation = new GenerationCliOptions();
        var command = new Command("caption", "caption images") { images, prompt, batch };
        common.AddTo(command);
        generation.AddTo(command);
        command.SetAction(r => Guard(r, common, stderr, () =>
        {
            var files = ImageInputs.Expand(r.GetValue(images)!, out bool fromFolders);
            using var captioner = BlipCaptioner.Open(r.GetValue(common.Model)!, common.LoadOptions(r, stderr));
            var options = generation.Apply(r, captioner.Defaults);
            using var writer = new ResultWriter(stdout, r.GetValue(common.Format)!);
            int done = 0;
            foreach (var chunk in files.Chunk(r.GetValue(batch)))
            {
                foreach (var result in captioner.Caption(chunk, r.GetValue(prompt), options))
                    writer.Write($"{result.Image}\t{result.Text}", new { image = result.Image, caption = result.Text, token_ids = result.TokenIds });
                done += chunk.Length;
                if (fromFolders) stderr.WriteLine($"[{done}/{files.Count}]");
            }
        }));
        return command;
    }

    public static Command Match(TextWriter stdout, TextWriter stderr)
    {
        var image = new Argument<string>("image") { Description = "image file" };
        ImageInputs.RejectOptionLike(image);
        var texts = new Option<string[]>("--text") { Description = "text to match (repeat for more)", Required = true, AllowMultipleArgumentsPerToken = false };
        var common = new CommonOptions(MatchModel);
        var command = new Command("match", "image-text matching: ITM probability and ITC cosine") { image, texts };
        common.AddTo(command);
        command.SetAction(r => Guard(r, common, stderr, () =>
        {
            using var matcher = BlipMatcher.Open(r.GetValue(common.Model)!, common.LoadOptions(r, stderr));
            using var writer = new ResultWriter(stdout, r.GetValue(common.Format)!);
            foreach (var m in matcher.Match(r.GetValue(image)!, r.GetValue(texts)!))
                writer.Write($"{m.ItmProbability:F4}\t{m.Cosine:F4}\t{m.Text}", new
                {
                    image = m.Image, text = m.Text, itm_logits = m.ItmLogits, itm_probability = m.ItmProbability, cosine = m.Cosine,
                });
        }));
        return command;
    }

    public static Command Rank(TextWriter stdout, TextWriter stderr)
    {
        var images = new Option<string>("--images") { Description = "folder (or glob) of images", Required = true };
        var text = new Option<string>("--text") { Description = "the text to rank images for", Required = true };
        var topK = new Option<int>("--top-k") { Description = "images re-scored with ITM after ITC", DefaultValueFactory = _ => 16 };
        topK.Validators.Add(r => { if (GenerationCliOptions.TryValue<int>(r, out var k) && k < 0) r.AddError($"--top-k must not be negative, got {k}"); });
        var common = new CommonOptions(MatchModel);
        var command = new Command("rank", "rank images for a text: ITC for all, ITM for the top k") { images, text, topK };
        common.AddTo(command);
        command.SetAction(r => Guard(r, common, stderr, () =>
        {
            var files = ImageInputs.Expand([r.GetValue(images)!], out _);
            using var matcher = BlipMatcher.Open(r.GetValue(common.Model)!, common.LoadOptions(r, stderr));
            var embeddings = new List<ImageEmbedding>();
            try
            {
                foreach (var file in files)
                {
                    embeddings.Add(matcher.EmbedImage(file));
                    stderr.WriteLine($"[{embeddings.Count}/{files.Count}]");
                }
                using var writer = new ResultWriter(stdout, r.GetValue(common.Format)!);
                int rank = 1;
                foreach (var ranked in matcher.RankImages(embeddings, r.GetValue(text)!, r.GetValue(topK)))
                    writer.Write($"{rank++}\t{ranked.ItmProbability?.ToString("F4", System.Globalization.CultureInfo.InvariantCulture) ?? "-"}\t{ranked.Cosine:F4}\t{ranked.Image}",
                        new { image = ranked.Image, text = r.GetValue(text), itm_probability = ranked.ItmProbability, cosine = ranked.Cosine });
            }
            finally
            {
                foreach (var e in embeddings) e.Dispose();
            }
        }));
        return command;
    }

    public static Command Vqa(TextWriter stdout, TextWriter stderr)
    {
        var image = new Argument<string>("image") { Description = "image file" };
        ImageInputs.RejectOptionLike(image);
        var question = new Option<string>("--question") { Description = "the question", Required = true };
        var common = new CommonOptions(VqaModel);
        var generation = new GenerationCliOptions();
        var command = new Command("vqa", "answer a question about an image") { image, question };
        common.AddTo(command);
        generation.AddTo(command);
        command.SetAction(r => Guard(r, common, stderr, () =>
        {
            using var answerer = BlipQuestionAnswerer.Open(r.GetValue(common.Model)!, common.LoadOptions(r, stderr));
            var answer = answerer.Answer(r.GetValue(image)!, r.GetValue(question)!, generation.Apply(r, answerer.Defaults));
            using var writer = new ResultWriter(stdout, r.GetValue(common.Format)!);
            writer.Write(answer.Text, new { image = answer.Image, question = r.GetValue(question), answer = answer.Text, token_ids = answer.TokenIds });
        }));
        return command;
    }

    public static Command Download(TextWriter stdout, TextWriter stderr)
    {
        var model = new Argument<string>("model") { Description = "Hugging Face id, e.g. Salesforce/blip-image-captioning-large" };
        model.Validators.Add(r => { if (string.IsNullOrWhiteSpace(r.GetValueOrDefault<string>())) r.AddError("model must be a Hugging Face id, got an empty value"); });
        var verbose = new Option<bool>("--verbose") { Description = "stack traces on failure" };
        var command = new Command("download", "download a model into the Hugging Face cache and print its folder") { model, verbose };
        command.SetAction(r => Guard(r, verbose, stderr, () =>
        {
            using var resolver = new HubModelResolver(stderr);
            var folder = resolver.ResolveModelFolderAsync(r.GetValue(model)!, HubOptions.FromEnvironment(), new HubConsoleProgress(stderr))
                .GetAwaiter().GetResult();
            stdout.WriteLine(folder);
        }));
        return command;
    }

    private static int Guard(ParseResult r, CommonOptions common, TextWriter stderr, Action body) => Guard(r, common.Verbose, stderr, body);

    /// <summary>Runs <paramref name="body"/>: usage errors exit 2, any other failure 1 with a one-line message.</summary>
    private static int Guard(ParseResult r, Option<bool> verbose, TextWriter stderr, Action body)
    {
        try
        {
            body();
            return ExitCodes.Ok;
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"blip: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            stderr.WriteLine($"blip: error: {OneLine(e)}");
            if (r.GetValue(verbose)) stderr.WriteLine(e);
            return ExitCodes.Failure;
        }
    }

    /// <summary>The exception's message on one line; a checkpoint that does not fit names three keys a group (its
    /// message lists twenty, one a line: --verbose prints it).</summary>
    internal static string OneLine(Exception e)
    {
        while (e is AggregateException { InnerException: { } inner }) e = inner;
        return e is StateDictMismatchException mismatch ? mismatch.Summary(3) : e.Message.ReplaceLineEndings(" ");
    }
}
