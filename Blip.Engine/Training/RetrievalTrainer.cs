// Fine-tunes the retrieval model with ITC + ITM (hard negatives), as BLIP's retrieval fine-tune without the momentum
// encoder and queue.
using Blip.Engine.Models;
using Blip.Engine.Processing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>Fine-tunes a <see cref="BlipForImageTextRetrieval"/> on image-caption pairs with ITC + ITM; evaluates
/// Recall@1/5/10 by ITC similarity after each epoch.</summary>
/// <remarks>The ITC temperature is learnable (0.07 at start, clamped to [0.001, 0.5] after each step, as BLIP); it is
/// kept in checkpoints but not in the exported model (transformers' class has no such weight). Captions are tokenized
/// as transformers' processor does (<c>[CLS]</c> first; the original swaps in <c>[ENC]</c> for ITM).</remarks>
public sealed class RetrievalTrainer : IDisposable
{
    private readonly BlipForImageTextRetrieval model;
    private readonly BlipTokenizer tokenizer;
    private readonly BlipImageProcessor processor;
    private readonly TrainingOptions options;
    private readonly Parameter temperature = new(tensor(0.07f));
    private readonly Generator negatives;

    /// <summary>Prepares to train <paramref name="model"/> (which the caller owns, on the CPU) with <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">The model is not on the CPU, or an option is invalid.</exception>
    public RetrievalTrainer(BlipForImageTextRetrieval model, BlipTokenizer tokenizer, BlipImageProcessor processor, TrainingOptions options)
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
        if (options.BatchSize < 2) throw new ArgumentException("ITM hard negatives need BatchSize ≥ 2", nameof(options));
        negatives = new Generator((ulong)options.Seed);
    }

    /// <summary>Called after every optimizer step, after any checkpoint of that step.</summary>
    public Action<TrainingProgress>? Progress { get; init; }

    /// <summary>The current ITC temperature.</summary>
    public double Temperature => temperature.item<float>();

    /// <summary>Optimizer steps of a run over <paramref name="examples"/> examples with these options.</summary>
    public int TotalSteps(int examples) => TrainingLoop.TotalSteps(options, examples);

    /// <summary>Trains, writing the log and checkpoints under <paramref name="outputFolder"/>; resumes from its
    /// checkpoint when <paramref name="resume"/>.</summary>
    /// <exception cref="FileNotFoundException"><paramref name="resume"/> and no checkpoint to resume from.</exception>
    /// <exception cref="IOException">Not <paramref name="resume"/>, and the folder holds another run's log or checkpoint.</exception>
    /// <exception cref="ArgumentException">Resuming a checkpoint written with another seed, batch size or training set, or a training set of one image.</exception>
    /// <exception cref="TrainingInterruptedException">A batch or the evaluation failed (e.g. an image that does not
    /// decode); the last completed step is saved.</exception>
    /// <exception cref="TrainingDivergedException">A loss was not finite.</exception>
    public TrainingResult Train(IReadOnlyList<CaptionExample> train, string outputFolder, IReadOnlyList<CaptionExample>? eval = null, bool resume = false)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (train.Count > 0 && train.All(x => x.ImageId == train[0].ImageId))
            throw new ArgumentException($"the training set has one image only ({train[0].ImagePath}): ITC and ITM need at least two", nameof(train));
        var task = new TrainingTask(model, processor, Loss,
            examples => RetrievalEvaluation.Run(model, processor, tokenizer, examples, options.BatchSize, TextLength),
            [("itc_temperature", temperature)], ClampTemperature, [new("itm_negatives", negatives)]);
        return TrainingLoop.Train(task, options, Progress, train, outputFolder, eval, resume);
    }

    private int TextLength => options.MaxTextLength ?? TrainingOptions.RetrievalMaxTextLength;

    private Tensor Loss(CaptionBatch batch)
    {
        using var scope = NewDisposeScope();
        var (ids, mask) = tokenizer.EncodeBatch(batch.Captions, maxLength: TextLength).ToTensors();
        var (itc, itm) = RetrievalLoss.Compute(model, batch.PixelValues, ids, mask, temperature, tensor(batch.ImageIds), negatives);
        return (itc + itm).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        temperature.Dispose();
        negatives.Dispose();
    }

    private void ClampTemperature()
    {
        using var noGrad = no_grad();
        temperature.clamp_(0.001, 0.5);
    }
}
