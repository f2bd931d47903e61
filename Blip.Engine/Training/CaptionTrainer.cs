// Fine-tunes the captioning model with the captioning LM loss (see TrainingLoop for the optimisation).
using Blip.Engine.Models;
using Blip.Engine.Processing;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>Fine-tunes a <see cref="BlipForConditionalGeneration"/> on image-caption pairs: AdamW with no-decay groups,
/// warm-up + cosine, accumulation, clipping, freezing, background loading, JSONL log, resumable checkpoints, and greedy
/// captioning of a held-out set after each epoch (exact match, BLEU-4, CIDEr-D).</summary>
/// <remarks>Output folder: <c>train_log.jsonl</c>, <c>checkpoint/</c> (resumable, replaced atomically). Data order is
/// a shuffle seeded by (seed, epoch), so a resumed run sees the same batches an uninterrupted one would.</remarks>
public sealed class CaptionTrainer
{
    private readonly BlipForConditionalGeneration model;
    private readonly BlipTokenizer tokenizer;
    private readonly BlipImageProcessor processor;
    private readonly TrainingOptions options;

    /// <summary>Prepares to train <paramref name="model"/> (which the caller owns, on the CPU) with <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">The model is not on the CPU, or an option is invalid.</exception>
    public CaptionTrainer(BlipForConditionalGeneration model, BlipTokenizer tokenizer, BlipImageProcessor processor, TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(processor);
        ArgumentNullException.ThrowIfNull(options);
        ModelParameters.RequireCpu(model, nameof(model));
        this.model = model;
        this.tokenizer = tokenizer;
        this.processor = processor;
        this.options = options.Validate();
    }

    /// <summary>Called after every optimizer step (e.g. to draw a progress bar), after any checkpoint of that step.</summary>
    public Action<TrainingProgress>? Progress { get; init; }

    /// <summary>Optimizer steps of a run over <paramref name="examples"/> examples with these options.</summary>
    public int TotalSteps(int examples) => TrainingLoop.TotalSteps(options, examples);

    /// <summary>Trains, writing the log and checkpoints under <paramref name="outputFolder"/>; resumes from its
    /// checkpoint when <paramref name="resume"/>.</summary>
    /// <exception cref="FileNotFoundException"><paramref name="resume"/> and no checkpoint to resume from.</exception>
    /// <exception cref="IOException">Not <paramref name="resume"/>, and the folder holds another run's log or checkpoint.</exception>
    /// <exception cref="ArgumentException">Resuming a checkpoint written with another seed, batch size or training set.</exception>
    /// <exception cref="TrainingInterruptedException">A batch or the evaluation failed (e.g. an image that does not
    /// decode); the last completed step is saved.</exception>
    /// <exception cref="TrainingDivergedException">A loss was not finite.</exception>
    public TrainingResult Train(IReadOnlyList<CaptionExample> train, string outputFolder, IReadOnlyList<CaptionExample>? eval = null, bool resume = false)
    {
        var task = new TrainingTask(model, processor, Loss,
            examples => CaptionEvaluation.Run(model, processor, tokenizer, examples, options.BatchSize, options.Loss.Prompt), [], null);
        return TrainingLoop.Train(task, options, Progress, train, outputFolder, eval, resume);
    }

    private Tensor Loss(CaptionBatch batch)
    {
        using var targets = CaptionTargets.Build(tokenizer, batch.Captions, options.Loss, options.MaxTextLength ?? TrainingOptions.CaptionMaxTextLength);
        return CaptionLoss.Compute(model, batch.PixelValues, targets, options.Loss);
    }
}
