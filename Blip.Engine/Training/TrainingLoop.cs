// The loop both trainers share: AdamW with no-decay groups, warm-up + cosine, accumulation, clipping, freezing,
// background data loading, JSONL log, resumable checkpoints and end-of-epoch evaluation.
using System.Diagnostics;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>What a task plugs into <see cref="TrainingLoop"/>.</summary>
/// <param name="Model">The model (owned by the caller).</param>
/// <param name="Processor">Image preprocessing for the loader.</param>
/// <param name="Loss">The loss of one micro-batch (a scalar with gradients).</param>
/// <param name="Evaluate">Metrics on a held-out set, or null.</param>
/// <param name="Extra">Trainable tensors outside the model (e.g. ITC temperature): no weight decay, saved in checkpoints.</param>
/// <param name="AfterStep">Runs after each optimizer step (e.g. clamping the temperature), or null.</param>
/// <param name="Generators">The task's own random generators (e.g. the hard-negative draws), by name: saved in
/// checkpoints beside the CPU generator, so that a resumed run draws what an uninterrupted one would; or null.</param>
internal sealed record TrainingTask(nn.Module Model, Processing.BlipImageProcessor Processor, Func<CaptionBatch, Tensor> Loss,
    Func<IReadOnlyList<CaptionExample>, IReadOnlyDictionary<string, double>>? Evaluate,
    IReadOnlyList<(string Name, Parameter Parameter)> Extra, Action? AfterStep,
    IReadOnlyList<KeyValuePair<string, Generator>>? Generators = null);

/// <summary>Runs the optimisation for a <see cref="TrainingTask"/>.</summary>
internal static class TrainingLoop
{
    private const string LogFile = "train_log.jsonl";

    /// <summary>Optimizer steps of a run over <paramref name="examples"/> examples.</summary>
    /// <exception cref="ArgumentException">The run would have more than <see cref="int.MaxValue"/> steps (the message names
    /// <see cref="TrainingOptions.Epochs"/>: a product that wrapped would run a wrong number of steps, or none).</exception>
    public static int TotalSteps(TrainingOptions options, int examples)
    {
        long batches = ((long)examples + options.BatchSize - 1) / options.BatchSize;
        long perEpoch = (batches + options.GradientAccumulation - 1) / options.GradientAccumulation;
        long total = perEpoch * options.Epochs;
        if (options.MaxSteps is { } max) total = Math.Min(max, total);
        if (total > int.MaxValue)
            throw new ArgumentException($"{nameof(options.Epochs)} {options.Epochs} × {perEpoch} steps an epoch is {total} steps, more than {int.MaxValue}; lower it or set {nameof(options.MaxSteps)}", nameof(options));
        return (int)total;
    }

    /// <summary>The shuffled order of epoch <paramref name="epoch"/>, stable across processes.</summary>
    public static int[] Order(int count, long seed, int epoch)
    {
        var order = Enumerable.Range(0, count).ToArray();
        new Random(unchecked((int)(seed * 1_000_003 + epoch))).Shuffle(order);
        return order;
    }

    public static TrainingResult Train(TrainingTask task, TrainingOptions options, Action<TrainingProgress>? progress,
        IReadOnlyList<CaptionExample> train, string outputFolder, IReadOnlyList<CaptionExample>? eval, bool resume)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(outputFolder);
        if (train.Count == 0) throw new ArgumentException("the training set is empty", nameof(train));
        string checkpoint = Path.Combine(outputFolder, "checkpoint");
        string data = Fingerprint(train);
        CheckOutputFolder(outputFolder, checkpoint, resume, options, train.Count, data);
        Directory.CreateDirectory(outputFolder);
        torch.manual_seed(options.Seed);
        if (options.TextDropout is { } rate) ModelParameters.SetDropout(task.Model, rate);
        if (options.GradientCheckpointing) GradientCheckpoint.EnableForVision(task.Model);
        var trainable = ModelParameters.Trainable(task.Model, options.Freeze);
        using var optimizer = ModelParameters.CreateOptimizer(trainable, options, task.Extra.Select(x => x.Parameter).ToList());
        var extra = task.Extra.Select(x => new KeyValuePair<string, Tensor>(x.Name, x.Parameter)).ToList();
        var state = resume
            ? TrainingCheckpoint.Load(checkpoint, task.Model, optimizer, extra, task.Generators)
            : new TrainerState(0, 0, 0, options.Seed);
        // A run killed after its last checkpoint logged steps that the resumed run takes again.
        if (resume) TrainingLog.DropStepsAfter(Path.Combine(outputFolder, LogFile), state.Step);
        using var log = new TrainingLog(Path.Combine(outputFolder, LogFile));
        var parameters = trainable.Select(x => x.Parameter).Concat(task.Extra.Select(x => x.Parameter)).ToList();
        // Every checkpoint of this run records what its position counts in (checked by CheckOutputFolder on resume).
        var run = new Run(task, options, progress, optimizer, parameters, log, TotalSteps(options, train.Count), checkpoint, extra,
            state with { BatchSize = options.BatchSize, Examples = train.Count, Data = data });
        for (int epoch = state.Epoch; epoch < options.Epochs && !run.Finished; epoch++)
        {
            run.Epoch(train, epoch, epoch == state.Epoch ? state.BatchInEpoch : 0);
            if (eval is { Count: > 0 } && task.Evaluate is not null)
            {
                // The epoch's end is saved already: say so, as a failed batch does (a resume starts the next epoch).
                try { run.Evaluate(eval, epoch); }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    throw new TrainingInterruptedException(run.Step, epoch, TrainingCheckpoint.Exists(checkpoint) ? checkpoint : null, null, e);
                }
            }
        }
        task.Model.eval();
        return new TrainingResult(run.Step, run.Losses, run.Evaluations);
    }

    /// <summary>Refuses to resume from nothing; to resume with another seed, batch size or training set (the position
    /// saved is a count of batches into a shuffle of the examples by the seed: any of them changed, the run would skip
    /// other examples than it trained on); and to start afresh over another run's log and checkpoint (it would mix the
    /// logs and replace the checkpoint). A checkpoint of an earlier version records only the seed.</summary>
    private static void CheckOutputFolder(string outputFolder, string checkpoint, bool resume, TrainingOptions options, int examples, string data)
    {
        if (resume)
        {
            var saved = TrainingCheckpoint.ReadState(checkpoint);
            string? change =
                saved.Seed != options.Seed ? $"{nameof(TrainingOptions.Seed)} {saved.Seed}; resuming it with {options.Seed}"
                : saved.BatchSize != 0 && saved.BatchSize != options.BatchSize ? $"{nameof(TrainingOptions.BatchSize)} {saved.BatchSize}; resuming it with {options.BatchSize}"
                : saved.Examples != 0 && saved.Examples != examples ? $"a training set of {saved.Examples} examples; resuming it with {examples}"
                : saved.Data is not null && saved.Data != data ? $"another training set (fingerprint {saved.Data}, now {data}); resuming it"
                : null;
            if (change is not null)
                throw new ArgumentException($"{checkpoint} was written by a run with {change} would train on other examples than the position it saved", nameof(options));
            return;
        }
        string log = Path.Combine(outputFolder, LogFile);
        if (TrainingCheckpoint.Exists(checkpoint) || File.Exists(log))
            throw new IOException($"{outputFolder} already holds a training run ({(File.Exists(log) ? log : checkpoint)}): resume it (--resume) or choose another output folder");
    }

    /// <summary>SHA-256 (hex, first 16 digits) of the examples' image paths, captions and image ids, in order.</summary>
    internal static string Fingerprint(IReadOnlyList<CaptionExample> examples)
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var e in examples)
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes($"{e.ImagePath}\0{e.Caption}\0{e.ImageId}\n"));
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    /// <summary>The mutable state of one call to <see cref="Train"/>.</summary>
    private sealed class Run(TrainingTask task, TrainingOptions options, Action<TrainingProgress>? progress, AdamW optimizer,
        IReadOnlyList<Parameter> parameters, TrainingLog log, int totalSteps, string checkpoint,
        IReadOnlyList<KeyValuePair<string, Tensor>> extra, TrainerState start)
    {
        private readonly List<double> stepLosses = [];
        private int savedStep = start.Step;

        public int Step { get; private set; } = start.Step;

        public List<double> Losses { get; } = [];

        public List<IReadOnlyDictionary<string, double>> Evaluations { get; } = [];

        public bool Finished => Step >= totalSteps;

        public void Epoch(IReadOnlyList<CaptionExample> train, int epoch, int skipBatches)
        {
            var order = Order(train.Count, options.Seed, epoch).Skip(skipBatches * options.BatchSize).ToArray();
            var augment = options.Augment ? new Random(unchecked((int)(options.Seed * 7_919 + epoch))) : null;
            // Resumed mid-epoch: the images already trained on had their draws, so the rest get the ones they had.
            if (augment is not null)
                ImageAugmentation.Skip(augment, Math.Min((long)skipBatches * options.BatchSize, train.Count),
                    task.Processor.Config.Height, task.Processor.Config.Width);
            using var loader = new CaptionBatchLoader(train, order, options.BatchSize, task.Processor, options.Prefetch, augment);
            int batchInEpoch = skipBatches, images = 0;
            int batchesInEpoch = (int)(((long)train.Count + options.BatchSize - 1) / options.BatchSize);
            // Where the last optimizer step left the epoch and the generators: what a failure saves (the micro-batches
            // after it are done again on resume, with the dropout draws they had).
            int stepBatch = skipBatches;
            var stepRng = Generator.Default.get_state();
            var stepGenerators = GeneratorStates();
            try
            {
                var clock = Stopwatch.StartNew();
                task.Model.train();
                using var batches = loader.Batches().GetEnumerator();
                while (true)
                {
                    double loss;
                    int count;
                    CaptionBatch? batch = null;
                    try
                    {
                        if (!batches.MoveNext()) break;
                        batch = batches.Current;
                        count = batch.Captions.Count;
                        // An epoch's last group may hold fewer micro-batches: its gradient is still their mean.
                        loss = MicroBatch(batch, Math.Min(options.GradientAccumulation, batchesInEpoch - stepBatch));
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        throw Interrupted(e, epoch, stepBatch, stepRng, stepGenerators);
                    }
                    finally
                    {
                        batch?.Dispose();
                    }
                    // Stop before the step: its gradients are not finite, and neither the weights nor the log may take
                    // them. Nothing is saved: the weights of the last step gave this loss, and the checkpoint before
                    // them is the one to resume from.
                    if (!double.IsFinite(loss)) throw new TrainingDivergedException(Step + 1, epoch, loss, checkpoint);
                    stepLosses.Add(loss);
                    images += count;
                    batchInEpoch++;
                    bool lastOfEpoch = batchInEpoch * options.BatchSize >= train.Count;
                    if (stepLosses.Count < options.GradientAccumulation && !lastOfEpoch) continue;
                    var report = OptimizerStep(epoch, images / clock.Elapsed.TotalSeconds);
                    images = 0;
                    clock.Restart();
                    stepBatch = batchInEpoch;
                    stepRng.Dispose();
                    stepRng = Generator.Default.get_state();
                    Dispose(stepGenerators);
                    stepGenerators = GeneratorStates();
                    // Stopping at MaxSteps mid-epoch saves too, so that a run cut short can be resumed with more steps.
                    bool due = (options.CheckpointEvery > 0 && Step % options.CheckpointEvery == 0) || Finished;
                    if (lastOfEpoch) Save(start with { Step = Step, Epoch = epoch + 1, BatchInEpoch = 0 }, stepRng, stepGenerators);
                    else if (due) Save(start with { Step = Step, Epoch = epoch, BatchInEpoch = batchInEpoch }, stepRng, stepGenerators);
                    progress?.Invoke(report); // after the checkpoint: a crash here loses nothing
                    if (Finished) break;
                }
            }
            finally
            {
                stepRng.Dispose();
                Dispose(stepGenerators);
            }
        }

        private List<KeyValuePair<string, Tensor>> GeneratorStates() =>
            (task.Generators ?? []).Select(g => new KeyValuePair<string, Tensor>(g.Key, g.Value.get_state())).ToList();

        private static void Dispose(List<KeyValuePair<string, Tensor>> states)
        {
            foreach (var state in states) state.Value.Dispose();
        }

        /// <summary>Saves the last optimizer step if no checkpoint holds it yet, and wraps <paramref name="failure"/>
        /// saying where the run can resume from (a failed batch, unlike a diverged loss, says nothing against the
        /// weights before it).</summary>
        private TrainingInterruptedException Interrupted(Exception failure, int epoch, int stepBatch, Tensor stepRng,
            List<KeyValuePair<string, Tensor>> stepGenerators)
        {
            Exception? saveFailure = null;
            try
            {
                if (Step != savedStep) Save(start with { Step = Step, Epoch = epoch, BatchInEpoch = stepBatch }, stepRng, stepGenerators);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                saveFailure = e;
            }
            bool saved = saveFailure is null && TrainingCheckpoint.Exists(checkpoint);
            return new TrainingInterruptedException(Step, epoch, saved ? checkpoint : null, saveFailure, failure);
        }

        /// <summary>Saves a checkpoint with the generator states as of <paramref name="state"/>'s step (taken right
        /// after it).</summary>
        private void Save(TrainerState state, Tensor rngState, List<KeyValuePair<string, Tensor>> generators)
        {
            TrainingCheckpoint.Save(checkpoint, task.Model, optimizer, state, extra, rngState, generators);
            savedStep = state.Step;
        }

        /// <param name="batch">The micro-batch.</param>
        /// <param name="groupSize">Micro-batches in its accumulation group.</param>
        private double MicroBatch(CaptionBatch batch, int groupSize)
        {
            using var scope = NewDisposeScope();
            var loss = task.Loss(batch);
            (loss / groupSize).backward();
            return loss.item<float>();
        }

        private TrainingProgress OptimizerStep(int epoch, double imagesPerSecond)
        {
            double lr = LearningRateSchedule.At(Step, totalSteps, options.WarmupSteps, options.LearningRate, options.MinLearningRate);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
            using (NewDisposeScope()) // TorchSharp's AdamW.step leaves one grad wrapper per parameter outside any scope
            {
                if (options.MaxGradNorm is { } max) nn.utils.clip_grad_norm_(parameters, max);
                optimizer.step();
                optimizer.zero_grad();
            }
            task.AfterStep?.Invoke();
            double loss = stepLosses.Average();
            stepLosses.Clear();
            Step++;
            Losses.Add(loss);
            log.Step(Step, epoch, loss, lr, imagesPerSecond);
            return new TrainingProgress(Step, totalSteps, epoch, loss, lr, imagesPerSecond);
        }

        public void Evaluate(IReadOnlyList<CaptionExample> eval, int epoch)
        {
            var metrics = task.Evaluate!(eval);
            Evaluations.Add(metrics);
            log.Evaluation(Step, epoch, metrics);
            task.Model.train();
        }
    }
}
