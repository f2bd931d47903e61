// What the trainer reports after each optimizer step, and what a run returns.
namespace Blip.Engine.Training;

/// <summary>One optimizer step's report.</summary>
/// <param name="Step">Optimizer steps done (1-based after the first step).</param>
/// <param name="TotalSteps">Optimizer steps of the whole run.</param>
/// <param name="Epoch">The epoch (0-based).</param>
/// <param name="Loss">Mean loss of the step's micro-batches.</param>
/// <param name="LearningRate">The rate the step used.</param>
/// <param name="ImagesPerSecond">Throughput of this step, data waiting included.</param>
public sealed record TrainingProgress(int Step, int TotalSteps, int Epoch, double Loss, double LearningRate, double ImagesPerSecond);

/// <summary>The outcome of <see cref="CaptionTrainer.Train"/>.</summary>
/// <param name="Steps">Optimizer steps done in total (a resumed run counts the earlier ones).</param>
/// <param name="Losses">The loss of each step this call ran.</param>
/// <param name="Evaluations">Metrics of each end-of-epoch evaluation, in order (empty without an eval set).</param>
public sealed record TrainingResult(int Steps, IReadOnlyList<double> Losses, IReadOnlyList<IReadOnlyDictionary<string, double>> Evaluations);
