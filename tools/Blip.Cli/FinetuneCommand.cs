// `blip finetune caption|itm`: parses its options, runs Blip.Engine.Training, draws a progress bar, exports the model.
using System.Globalization;
using Blip.Engine.Checkpoints;
using Blip.Engine.Config;
using Blip.Engine.Models;
using Blip.Engine.Processing;
using Blip.Engine.Training;

namespace Blip.Cli;

/// <summary>The <c>finetune</c> command (self-contained; the CLI's dispatcher calls <see cref="Run"/>).</summary>
public static class FinetuneCommand
{
    private const string Usage = """
        usage: blip finetune caption|itm --model DIR|HUB_ID --train FILE --output DIR [options]
          caption               captioning LM loss (BlipForConditionalGeneration)
          itm                   ITC + ITM with hard negatives (BlipForImageTextRetrieval); eval: Recall@1/5/10 by ITC
          --train FILE          JSONL of {"image": path, "caption": text} (paths relative to the file), or a COCO
                                Karpathy .json with --image-root
          --eval FILE           held-out file of the same kind, evaluated after each epoch (caption: exact match,
                                BLEU-4, CIDEr-D; itm: Recall@K)
          --image-root DIR      image folder of Karpathy annotation files
          --epochs N (1)  --lr X (1e-5)  --min-lr X (0)  --warmup N (0)  --batch-size N (8)  --grad-accum N (1)
          --weight-decay X (0.05)  --max-grad-norm X|none (1.0)  --seed N (42)  --max-steps N
          --freeze PARTS        comma list of the parts to freeze: vision, decoder (caption); vision, text-encoder (itm)
          --dropout X           text dropout (hidden and attention); default: the config's
          --recipe transformers|blip   loss recipe (default transformers; blip: [DEC] first, pads and prompt masked,
                                label smoothing 0.1)
          --prompt TEXT         prompt put before each caption (unless it starts so) and masked by the blip recipe
                                (default "a picture of "); only with --recipe blip
          --checkpoint-every N  optimizer steps between resumable checkpoints (and each epoch end, and the last step)
          --resume              continue from OUTPUT/checkpoint, with the same --seed, --batch-size and training file
                                (without it, OUTPUT must not hold another run)
          --gradient-checkpointing  recompute vision layers in backward (less memory, ~1/3 more compute)
          --augment             random resized crop (scale 0.5-1) and horizontal flip of training images
          --verbose             stack traces on failure
        Training runs on the CPU in float32. The fine-tuned model is written to OUTPUT/model (Hub layout: config, safetensors, processor, tokenizer).
        """;

    /// <summary>Runs <c>finetune</c> with <paramref name="args"/> (after the word "finetune"); returns the exit code:
    /// 0 done, 1 failed, 2 usage error.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        FinetuneArguments parsed;
        try
        {
            parsed = FinetuneArguments.Parse(args);
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"blip finetune: {e.Message}");
            stderr.WriteLine(Usage);
            return 2;
        }
        if (parsed.Help)
        {
            stdout.WriteLine(Usage);
            return 0;
        }
        try
        {
            return parsed.Task == "caption" ? Caption(parsed, stdout, stderr) : Itm(parsed, stdout, stderr);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The foreseen failures (bad files, options, checkpoints, a diverged loss) say what is wrong in their
            // message; any other (libtorch's ExternalException such as CUDA running out of memory) also names its
            // type. Either way exit 1, never an unhandled exception.
            bool foreseen = e is IOException or FormatException or ArgumentException or ConfigException or HubException
                or CheckpointFormatException or StateDictMismatchException or ImageDecodeException or UnauthorizedAccessException
                or TrainingDivergedException or TrainingInterruptedException;
            stderr.WriteLine();
            stderr.WriteLine(foreseen ? $"blip finetune: {Commands.OneLine(e)}" : $"blip finetune: {e.GetType().Name}: {Commands.OneLine(e)}");
            if (parsed.Verbose) stderr.WriteLine(e);
            return 1;
        }
    }

    private static int Caption(FinetuneArguments a, TextWriter stdout, TextWriter stderr)
    {
        var train = Load(a.Train, a.ImageRoot); // data errors before a model download
        var eval = a.Eval is null ? null : Load(a.Eval, a.ImageRoot);
        string modelDir = ResolveModel(a.Model, stderr);
        using var model = BlipForConditionalGeneration.FromPretrained(modelDir);
        using var tokenizer = BlipTokenizer.Load(modelDir);
        var processor = new BlipImageProcessor(ImageProcessorConfig.Load(modelDir));
        var bar = new ProgressBar(stderr);
        var trainer = new CaptionTrainer(model, tokenizer, processor, a.Options) { Progress = bar.Draw };
        stderr.WriteLine($"fine-tuning {modelDir} on {train.Count} captions for {trainer.TotalSteps(train.Count)} steps");
        var result = trainer.Train(train, a.Output, eval, a.Resume);
        return Finish(model, modelDir, a.Output, result, stdout, stderr);
    }

    private static int Itm(FinetuneArguments a, TextWriter stdout, TextWriter stderr)
    {
        var train = Load(a.Train, a.ImageRoot); // data errors before a model download
        var eval = a.Eval is null ? null : Load(a.Eval, a.ImageRoot);
        string modelDir = ResolveModel(a.Model, stderr);
        using var model = BlipForImageTextRetrieval.FromPretrained(modelDir);
        using var tokenizer = BlipTokenizer.Load(modelDir);
        var processor = new BlipImageProcessor(ImageProcessorConfig.Load(modelDir));
        var bar = new ProgressBar(stderr);
        using var trainer = new RetrievalTrainer(model, tokenizer, processor, a.Options) { Progress = bar.Draw };
        stderr.WriteLine($"fine-tuning {modelDir} (ITC + ITM) on {train.Count} captions for {trainer.TotalSteps(train.Count)} steps");
        var result = trainer.Train(train, a.Output, eval, a.Resume);
        return Finish(model, modelDir, a.Output, result, stdout, stderr);
    }

    private static int Finish(TorchSharp.torch.nn.Module model, string modelDir, string output, TrainingResult result,
        TextWriter stdout, TextWriter stderr)
    {
        stderr.WriteLine();
        foreach (var (metrics, epoch) in result.Evaluations.Select((m, i) => (m, i)))
            stderr.WriteLine($"epoch {epoch}: " + string.Join(", ", metrics.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:F4}"))));
        string exportDir = Path.Combine(output, "model");
        HubExport.Save(model, modelDir, exportDir);
        stdout.WriteLine(Path.GetFullPath(exportDir));
        return 0;
    }

    private static bool IsJsonl(string path) => path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase);

    private static IReadOnlyList<CaptionExample> Load(string path, string? imageRoot) =>
        IsJsonl(path) ? CaptionDataset.LoadJsonl(path) : CaptionDataset.LoadKarpathy(path, imageRoot!); // Parse checked imageRoot

    private static string ResolveModel(string idOrPath, TextWriter stderr)
    {
        if (Directory.Exists(idOrPath)) return Path.GetFullPath(idOrPath);
        using var resolver = new HubModelResolver(stderr);
        return resolver.ResolveModelFolderAsync(idOrPath, HubOptions.FromEnvironment(), new HubConsoleProgress(stderr)).GetAwaiter().GetResult();
    }

    /// <summary>A one-line progress bar redrawn in place: bar, step, loss, learning rate, images/s.</summary>
    private sealed class ProgressBar(TextWriter writer)
    {
        public void Draw(TrainingProgress p)
        {
            const int width = 30;
            int filled = (int)Math.Round(width * (double)p.Step / p.TotalSteps);
            writer.Write(string.Create(CultureInfo.InvariantCulture,
                $"\r[{new string('#', filled)}{new string('-', width - filled)}] {p.Step}/{p.TotalSteps} epoch {p.Epoch} loss {p.Loss:F4} lr {p.LearningRate:E2} {p.ImagesPerSecond:F1} img/s"));
            writer.Flush();
        }
    }

    /// <summary>What <c>blip finetune</c> was asked to do.</summary>
    private sealed record FinetuneArguments
    {
        public string Task { get; init; } = "";

        public string Model { get; init; } = "";

        public string Train { get; init; } = "";

        public string Output { get; init; } = "";

        public string? Eval { get; init; }

        public string? ImageRoot { get; init; }

        public bool Resume { get; init; }

        public bool Help { get; init; }

        public bool Verbose { get; init; }

        public TrainingOptions Options { get; init; } = new();

        /// <summary>Parses and validates; <see cref="ArgumentException"/> names the bad option.</summary>
        public static FinetuneArguments Parse(string[] args)
        {
            if (args.Length == 0 || args[0] is "-h" or "--help") return new FinetuneArguments { Help = true };
            if (args[0] is not ("caption" or "itm")) throw new ArgumentException($"unknown task '{args[0]}' (expected caption or itm)");
            var a = new FinetuneArguments { Task = args[0] };
            var o = new TrainingOptions();
            string? recipe = null, prompt = null;
            for (int i = 1; i < args.Length; i++)
            {
                string name = args[i];
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value");
                switch (name)
                {
                    case "-h" or "--help": a = a with { Help = true }; break;
                    case "--model": a = a with { Model = Value() }; break;
                    case "--train": a = a with { Train = Value() }; break;
                    case "--output": a = a with { Output = Value() }; break;
                    case "--eval": a = a with { Eval = Value() }; break;
                    case "--image-root": a = a with { ImageRoot = Value() }; break;
                    case "--resume": a = a with { Resume = true }; break;
                    case "--verbose": a = a with { Verbose = true }; break;
                    case "--gradient-checkpointing": o = o with { GradientCheckpointing = true }; break;
                    case "--augment": o = o with { Augment = true }; break;
                    case "--epochs": o = o with { Epochs = Int(name, Value()) }; break;
                    case "--lr": o = o with { LearningRate = Double(name, Value()) }; break;
                    case "--min-lr": o = o with { MinLearningRate = Double(name, Value()) }; break;
                    case "--warmup": o = o with { WarmupSteps = Int(name, Value()) }; break;
                    case "--batch-size": o = o with { BatchSize = Int(name, Value()) }; break;
                    case "--grad-accum": o = o with { GradientAccumulation = Int(name, Value()) }; break;
                    case "--weight-decay": o = o with { WeightDecay = Double(name, Value()) }; break;
                    case "--max-grad-norm": string v = Value(); o = o with { MaxGradNorm = v == "none" ? null : Double(name, v) }; break;
                    case "--seed": o = o with { Seed = Long(name, Value()) }; break;
                    case "--max-steps": o = o with { MaxSteps = Int(name, Value()) }; break;
                    case "--checkpoint-every": o = o with { CheckpointEvery = Int(name, Value()) }; break;
                    case "--dropout": o = o with { TextDropout = Double(name, Value()) }; break;
                    case "--freeze": o = o with { Freeze = Parts(Value()) }; break;
                    case "--recipe": recipe = Value(); break;
                    case "--prompt": prompt = Value(); break;
                    default: throw new ArgumentException($"unknown option '{name}'");
                }
            }
            if (a.Help) return a;
            if (a.Model.Length == 0) throw new ArgumentException("--model is required");
            if (a.Train.Length == 0) throw new ArgumentException("--train is required");
            if (a.Output.Length == 0) throw new ArgumentException("--output is required");
            foreach (var file in new[] { a.Train, a.Eval })
                if (file is not null && !IsJsonl(file) && a.ImageRoot is null)
                    throw new ArgumentException($"--image-root is needed to read the Karpathy file {file} (a JSONL file must end in .jsonl)");
            if (a.ImageRoot is not null && new[] { a.Train, a.Eval }.All(file => file is null || IsJsonl(file)))
                throw new ArgumentException("--image-root applies to Karpathy .json files only: the paths of a JSONL file are relative to the file");
            // A part the task's model lacks would freeze nothing: a usage error, as an ignored --recipe is.
            var (absent, what) = a.Task == "caption" ? (ModelParts.TextEncoder, "text-encoder") : (ModelParts.Decoder, "decoder");
            if ((o.Freeze & absent) != 0)
                throw new ArgumentException($"--freeze {what}: {a.Task} models have no {what.Replace('-', ' ')} (caption: vision, decoder; itm: vision, text-encoder)");
            return a with { Options = (o with { Loss = Loss(a.Task, recipe, prompt) }).Validate() };
        }

        /// <summary>The caption loss recipe; a recipe or prompt that would be ignored (itm, or --prompt without the blip
        /// recipe, which alone masks it) is a usage error rather than a silent no-op.</summary>
        private static CaptionLossSettings Loss(string task, string? recipe, string? prompt)
        {
            if (task == "itm" && (recipe ?? prompt) is not null) throw new ArgumentException("--recipe and --prompt apply to caption only");
            if (prompt is not null && recipe != "blip") throw new ArgumentException("--prompt applies to --recipe blip only (the transformers recipe masks no prompt)");
            return (recipe ?? "transformers") switch
            {
                "transformers" => CaptionLossSettings.Transformers,
                "blip" => CaptionLossSettings.OriginalBlip(prompt ?? "a picture of "),
                _ => throw new ArgumentException($"--recipe must be transformers or blip, got '{recipe}'"),
            };
        }

        private static int Int(string name, string value) =>
            Long(name, value) is var n && n is >= int.MinValue and <= int.MaxValue ? (int)n
            : throw new ArgumentException($"{name} expects an integer up to {int.MaxValue}, got '{value}'");

        private static long Long(string name, string value) =>
            long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out long n) ? n : throw new ArgumentException($"{name} expects an integer, got '{value}'");

        private static double Double(string name, string value) =>
            double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) ? x : throw new ArgumentException($"{name} expects a number, got '{value}'");

        private static ModelParts Parts(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Aggregate(ModelParts.None, (all, part) => all | part switch
            {
                "vision" => ModelParts.Vision,
                "text-encoder" or "text" => ModelParts.TextEncoder,
                "decoder" => ModelParts.Decoder,
                _ => throw new ArgumentException($"--freeze: unknown part '{part}' (vision, text-encoder, decoder)"),
            });
    }
}
