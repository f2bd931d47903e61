// The settings of a fine-tuning run, immutable and validated once.
namespace Blip.Engine.Training;

/// <summary>Parts of a BLIP model that can be frozen (their parameters get no gradient and no update).</summary>
[Flags]
public enum ModelParts
{
    /// <summary>Nothing frozen.</summary>
    None = 0,

    /// <summary>The ViT image encoder (<c>vision_model.*</c>).</summary>
    Vision = 1,

    /// <summary>The text encoder of retrieval/VQA models (<c>text_encoder.*</c>).</summary>
    TextEncoder = 2,

    /// <summary>The caption/answer decoder (<c>text_decoder.*</c>).</summary>
    Decoder = 4,
}

/// <summary>Fine-tuning settings; defaults follow BLIP's captioning fine-tune where it has one.</summary>
public sealed record TrainingOptions
{
    /// <summary>Passes over the training data.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Examples per forward pass.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Forward passes whose gradients are averaged before one optimizer step. An epoch's last step averages
    /// the passes left (fewer when the epoch's batches are not a multiple of it), as transformers' Trainer does.</summary>
    public int GradientAccumulation { get; init; } = 1;

    /// <summary>Peak learning rate, reached at the end of warm-up (BLIP captioning: 1e-5).</summary>
    public double LearningRate { get; init; } = 1e-5;

    /// <summary>Learning rate at the end of the cosine decay.</summary>
    public double MinLearningRate { get; init; }

    /// <summary>Optimizer steps of linear warm-up from 0.</summary>
    public int WarmupSteps { get; init; }

    /// <summary>AdamW decoupled weight decay (BLIP: 0.05); never applied to biases and LayerNorm weights.</summary>
    public double WeightDecay { get; init; } = 0.05;

    /// <summary>AdamW β1.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>AdamW β2.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>AdamW ε.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Clip the global gradient L2 norm to this; null for no clipping.</summary>
    public double? MaxGradNorm { get; init; } = 1.0;

    /// <summary>Seed of weights' dropout masks, data order and hard negatives: the same seed repeats a run.</summary>
    public long Seed { get; init; } = 42;

    /// <summary>Parts whose parameters are frozen.</summary>
    public ModelParts Freeze { get; init; }

    /// <summary>Dropout of the text model (hidden and attention probabilities); null keeps the config's (0.0 in Hub
    /// files; BLIP trained with 0.1).</summary>
    public double? TextDropout { get; init; }

    /// <summary>Captioning loss recipe.</summary>
    public CaptionLossSettings Loss { get; init; } = CaptionLossSettings.Transformers;

    /// <summary>Truncate captions to this many tokens (special tokens included); null (the default): BLIP's length for
    /// the task, <see cref="CaptionMaxTextLength"/> for captioning, <see cref="RetrievalMaxTextLength"/> for retrieval.</summary>
    public int? MaxTextLength { get; init; }

    /// <summary>BLIP's caption length in training: 40 (<c>blip_decoder</c>'s <c>max_length=40</c>).</summary>
    public const int CaptionMaxTextLength = 40;

    /// <summary>BLIP's text length for retrieval, in training and evaluation: 35 (<c>blip_retrieval</c> and its
    /// evaluation tokenize with <c>max_length=35</c>).</summary>
    public const int RetrievalMaxTextLength = 35;

    /// <summary>Save a resumable checkpoint every this many optimizer steps (and at each epoch end, and where
    /// <see cref="MaxSteps"/> stops the run); 0: only those.</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Random resized crop (scale 0.5–1) and horizontal flip on training images, as the original BLIP (without
    /// its RandAugment); see <see cref="ImageAugmentation"/>. Off by default.</summary>
    public bool Augment { get; init; }

    /// <summary>Recompute each vision encoder layer in the backward pass instead of keeping its activations.</summary>
    public bool GradientCheckpointing { get; init; }

    /// <summary>Batches prepared ahead by the background loader.</summary>
    public int Prefetch { get; init; } = 2;

    /// <summary>Stop after this many optimizer steps in total (null: run every epoch to its end).</summary>
    public int? MaxSteps { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid field.</summary>
    public TrainingOptions Validate()
    {
        Positive(Epochs, nameof(Epochs));
        Positive(BatchSize, nameof(BatchSize));
        Positive(GradientAccumulation, nameof(GradientAccumulation));
        if (MaxTextLength is { } maxTextLength) Positive(maxTextLength, nameof(MaxTextLength));
        Positive(Prefetch, nameof(Prefetch));
        if (MaxSteps is { } m) Positive(m, nameof(MaxSteps));
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) Fail(nameof(LearningRate), $"must be > 0, got {LearningRate}");
        if (!(MinLearningRate >= 0) || MinLearningRate > LearningRate) Fail(nameof(MinLearningRate), $"must be in [0, {nameof(LearningRate)}], got {MinLearningRate}");
        if (WarmupSteps < 0) Fail(nameof(WarmupSteps), $"must be ≥ 0, got {WarmupSteps}");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) Fail(nameof(WeightDecay), $"must be finite and ≥ 0, got {WeightDecay}");
        if (!(Beta1 >= 0 && Beta1 < 1)) Fail(nameof(Beta1), $"must be in [0, 1), got {Beta1}");
        if (!(Beta2 >= 0 && Beta2 < 1)) Fail(nameof(Beta2), $"must be in [0, 1), got {Beta2}");
        if (!(Epsilon > 0) || double.IsInfinity(Epsilon)) Fail(nameof(Epsilon), $"must be finite and > 0, got {Epsilon}");
        if (MaxGradNorm is { } g && (!(g > 0) || double.IsInfinity(g))) Fail(nameof(MaxGradNorm), $"must be finite and > 0, or null for no clipping, got {g}");
        if (TextDropout is { } d && !(d >= 0 && d < 1)) Fail(nameof(TextDropout), $"must be in [0, 1), got {d}");
        if (CheckpointEvery < 0) Fail(nameof(CheckpointEvery), $"must be ≥ 0, got {CheckpointEvery}");
        ArgumentNullException.ThrowIfNull(Loss, nameof(Loss));
        Loss.Validate();
        return this;
    }

    private static void Positive(int value, string name)
    {
        if (value <= 0) Fail(name, $"must be > 0, got {value}");
    }

    private static void Fail(string name, string message) => throw new ArgumentException($"{name} {message}", name);
}
