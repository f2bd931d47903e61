// The captioning fine-tuning loop: AdamW with no-decay groups, warm-up + cosine, accumulation, clipping, freezing,
// background data loading, JSONL log, resumable checkpoints and end-of-epoch evaluation.
using System.Diagnostics;
using Blip.Engine.Models;
using Blip.Engine.Processing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>Fine-tunes a <see cref="BlipForConditionalGeneration"/> on image-caption pairs.</summary>
/// <remarks>Output folder: <c>train_log.jsonl</c>, <c>checkpoint/</c> (resumable, replaced atomically). Data order is
/// a shuffle seeded by (seed, epoch), so a resumed run sees the same batches an uninterrupted one would.</remarks>
public sealed class CaptionTrainer
{
    private readonly BlipForConditionalGeneration model;
    private readonly BlipTokenizer tokenizer;
    private readonly BlipImageProcessor processor;
    private readonly TrainingOptions options;

    /// <summary>Prepares to train <paramref name="model"/> (which the caller owns) with <paramref name="options"/>.</summary>
    public CaptionTrainer(BlipForConditionalGeneration model, BlipTokenizer tokenizer, BlipImageProcessor processor, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(processor);
        ArgumentNullException.ThrowIfNull(options);
        this.model = model;
        this.tokenizer = tokenizer;
        this.processor = processor;
        this.options = options.Validate();
    }

    /// <summary>Called after every optimizer step (e.g. to draw a progress bar).</summary>
    public Action<TrainingProgress>? Progress { get; init; }

    /// <summary>Optimizer steps of a run over <paramref name="examples"/> examples with these options.</summary>
    public int TotalSteps(int examples)
    {
        int batches = (examples + options.BatchSize - 1) / options.BatchSize;
        int perEpoch = (batches + options.GradientAccumulation - 1) / options.GradientAccumulation;
        int total = perEpoch * options.Epochs;
        return options.MaxSteps is { } max ? Math.Min(max, total) : total;
    }

    /// <summary>Trains, writing the log and checkpoints under <paramref name="outputFolder"/>; resumes from its
    /// checkpoint when <paramref name="resume"/> and one exists.</summary>
    public TrainingResult Train(IReadOnlyList<CaptionExample> train, string outputFolder, IReadOnlyList<CaptionExample>? eval = null, bool resume = false)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(outputFolder);
        if (train.Count == 0) throw new ArgumentException("the training set is empty", nameof(train));
        Directory.CreateDirectory(outputFolder);
        string checkpoint = Path.Combine(outputFolder, "checkpoint");
        torch.manual_seed(options.Seed);
        if (options.TextDropout is { } rate) ModelParameters.SetDropout(model, rate);
        var trainable = ModelParameters.Trainable(model, options.Freeze);
        using var optimizer = ModelParameters.CreateOptimizer(trainable, options);
        var state = resume && TrainingCheckpoint.Exists(checkpoint)
            ? TrainingCheckpoint.Load(checkpoint, model, optimizer)
            : new TrainerState(0, 0, 0, options.Seed);
        using var log = new TrainingLog(Path.Combine(outputFolder, "train_log.jsonl"));
        var run = new Run(this, optimizer, trainable.Select(x => x.Parameter).ToList(), log, TotalSteps(train.Count), checkpoint, state);
        for (int epoch = state.Epoch; epoch < options.Epochs && !run.Finished; epoch++)
        {
            run.Epoch(train, epoch, epoch == state.Epoch ? state.BatchInEpoch : 0);
            if (eval is { Count: > 0 }) run.Evaluate(eval, epoch);
        }
        model.eval();
        return new TrainingResult(run.Step, run.Losses, run.Evaluations);
    }

    /// <summary>The shuffled order of epoch <paramref name="epoch"/>.</summary>
    internal static int[] Order(int count, long seed, int epoch)
    {
        var order = Enumerable.Range(0, count).ToArray();
        new Random(unchecked((int)(seed * 1_000_003 + epoch))).Shuffle(order); // stable across processes, unlike HashCode
        return order;
    }

    /// <summary>The mutable state of one call to <see cref="Train"/>.</summary>
    private sealed class Run(CaptionTrainer owner, AdamW optimizer, IReadOnlyList<Parameter> parameters, TrainingLog log, int totalSteps,
        string checkpoint, TrainerState start)
    {
        private readonly TrainingOptions options = owner.options;
        private readonly List<double> stepLosses = [];

        public int Step { get; private set; } = start.Step;

        public List<double> Losses { get; } = [];

        public List<IReadOnlyDictionary<string, double>> Evaluations { get; } = [];

        public bool Finished => Step >= totalSteps;

        public void Epoch(IReadOnlyList<CaptionExample> train, int epoch, int skipBatches)
        {
            var order = Order(train.Count, options.Seed, epoch).Skip(skipBatches * options.BatchSize).ToArray();
            using var loader = new CaptionBatchLoader(train, order, options.BatchSize, owner.processor, options.Prefetch);
            int batchInEpoch = skipBatches, images = 0;
            var clock = Stopwatch.StartNew();
            owner.model.train();
            foreach (var batch in loader.Batches())
            {
                using (batch) stepLosses.Add(MicroBatch(batch));
                images += batch.Captions.Count;
                batchInEpoch++;
                bool lastOfEpoch = batchInEpoch * options.BatchSize >= train.Count;
                if (stepLosses.Count < options.GradientAccumulation && !lastOfEpoch) continue;
                var progress = OptimizerStep(epoch, images / clock.Elapsed.TotalSeconds);
                images = 0;
                clock.Restart();
                bool due = options.CheckpointEvery > 0 && Step % options.CheckpointEvery == 0;
                if (lastOfEpoch) TrainingCheckpoint.Save(checkpoint, owner.model, optimizer, new TrainerState(Step, epoch + 1, 0, options.Seed));
                else if (due) TrainingCheckpoint.Save(checkpoint, owner.model, optimizer, new TrainerState(Step, epoch, batchInEpoch, options.Seed));
                owner.Progress?.Invoke(progress); // after the checkpoint: a crash here loses nothing
                if (Finished) break;
            }
        }

        private double MicroBatch(CaptionBatch batch)
        {
            using var scope = NewDisposeScope();
            using var targets = CaptionTargets.Build(owner.tokenizer, batch.Captions, options.Loss, options.MaxTextLength);
            var loss = CaptionLoss.Compute(owner.model, batch.PixelValues, targets, options.Loss);
            (loss / options.GradientAccumulation).backward();
            return loss.item<float>();
        }

        private TrainingProgress OptimizerStep(int epoch, double imagesPerSecond)
        {
            double lr = LearningRateSchedule.At(Step, totalSteps, options.WarmupSteps, options.LearningRate, options.MinLearningRate);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
            if (options.MaxGradNorm is { } max) nn.utils.clip_grad_norm_(parameters, max);
            optimizer.step();
            optimizer.zero_grad();
            double loss = stepLosses.Average();
            stepLosses.Clear();
            Step++;
            Losses.Add(loss);
            log.Step(Step, epoch, loss, lr, imagesPerSecond);
            return new TrainingProgress(Step, totalSteps, epoch, loss, lr, imagesPerSecond);
        }

        public void Evaluate(IReadOnlyList<CaptionExample> eval, int epoch)
        {
            var metrics = CaptionEvaluation.Run(owner.model, owner.processor, owner.tokenizer, eval, options.BatchSize);
            Evaluations.Add(metrics);
            log.Evaluation(Step, epoch, metrics);
            owner.model.train();
        }
    }
}
