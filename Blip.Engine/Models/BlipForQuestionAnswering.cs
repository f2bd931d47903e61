// transformers' BlipForQuestionAnswering: the text encoder reads the question against the image; the decoder
// writes the answer against the question states.
using Blip.Engine.Config;
using Blip.Engine.Generation;
using Blip.Engine.Modules.Text;
using Blip.Engine.Modules.Vision;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Models;

/// <summary>Visual question answering (blip-vqa-* checkpoints).</summary>
public sealed class BlipForQuestionAnswering : nn.Module
{
    private readonly BlipVisionModel vision_model;
    private readonly BlipTextModel text_encoder;
    private readonly BlipTextLMHeadModel text_decoder;

    /// <summary>Creates the model with uninitialised weights for <paramref name="config"/>.</summary>
    public BlipForQuestionAnswering(BlipConfig config) : base(nameof(BlipForQuestionAnswering))
    {
        ArgumentNullException.ThrowIfNull(config);
        Config = config;
        vision_model = new BlipVisionModel(config.VisionConfig);
        text_encoder = new BlipTextModel(config.TextConfig);
        text_decoder = new BlipTextLMHeadModel(config.TextConfig);
        RegisterComponents();
    }

    /// <summary>Loads a Hub-layout folder, strictly by transformers' key names.</summary>
    /// <remarks>With <paramref name="memoryMap"/>, parameters are views of a private (copy-on-write) mapping of the
    /// file: ~0.5 s for 1.78 GB and no second copy, for inference. Replace such a file by writing a new one and renaming
    /// it, never in place. The default copies the weights into memory the model owns (use it to train).</remarks>
    public static BlipForQuestionAnswering FromPretrained(string folder, Device? device = null, ScalarType? dtype = null, bool memoryMap = false) =>
        PretrainedLoader.Load(folder, c => new BlipForQuestionAnswering(c), device, dtype, memoryMap);

    /// <summary>The configuration this model was built from.</summary>
    public BlipConfig Config { get; }

    /// <summary>The image encoder.</summary>
    public BlipVisionModel VisionModel => vision_model;

    /// <summary>The question encoder.</summary>
    public BlipTextModel TextEncoder => text_encoder;

    /// <summary>The answer decoder.</summary>
    public BlipTextLMHeadModel TextDecoder => text_decoder;

    /// <summary>Question states [B,T,C]: the text encoder over the question, cross-attending to the whole image.</summary>
    public Tensor EncodeQuestion(Tensor imageEmbeds, Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        return text_encoder.Forward(inputIds, attentionMask, causal: false, encoderStates: imageEmbeds).MoveToOuterDisposeScope();
    }

    /// <summary>Whether the answer decoder's cross-attention masks the question's padding, as the original BLIP does.
    /// Default false: transformers (5.12) passes the question mask but its cross-attention never applies it
    /// (<c>BlipTextAttention</c> forwards it as <c>attention_mask</c>, which cross-attention ignores), so padded
    /// question tokens are attended. This matters only for batches of questions of different lengths.</summary>
    public bool MaskQuestionPaddingInDecoder { get; set; }

    /// <summary>Answer logits [B,Ta,V], teacher-forced, as transformers' forward: the decoder reads
    /// <paramref name="answerIds"/> (the labels) and cross-attends to the question states (see
    /// <see cref="MaskQuestionPaddingInDecoder"/> for the question's padding).</summary>
    public Tensor AnswerLogits(Tensor questionStates, Tensor? questionMask, Tensor answerIds, Tensor? answerMask = null)
    {
        using var scope = NewDisposeScope();
        var crossMask = MaskQuestionPaddingInDecoder ? questionMask : null;
        return text_decoder.Forward(answerIds, answerMask, questionStates, crossMask).MoveToOuterDisposeScope();
    }

    /// <summary>The decoder's LM loss on answer logits, label smoothing from the text config.</summary>
    public Tensor Loss(Tensor answerLogits, Tensor labels) =>
        BlipTextLMHeadModel.Loss(answerLogits, labels, Config.TextConfig.LabelSmoothing);

    /// <summary>Answers <paramref name="questionIds"/> about <paramref name="pixelValues"/> as transformers'
    /// <c>generate()</c>: the question is encoded against the image once, the decoder starts from bos and writes the
    /// answer against the question states; the returned ids start with bos (no question).</summary>
    /// <param name="pixelValues">[G,3,H,W] images.</param>
    /// <param name="questionIds">[G,T] tokenized questions.</param>
    /// <param name="questionMask">[G,T] padding mask of the questions, or null.</param>
    /// <param name="options">Search options; null: transformers' defaults (greedy, max_length 20).</param>
    /// <param name="interpolatePosEncoding">Resize the position grid for other image sizes.</param>
    /// <remarks>transformers' generate() lets the decoder attend to every question token (an all-ones cross mask); set
    /// <see cref="MaskQuestionPaddingInDecoder"/> to mask the padding as the original BLIP. Stops at
    /// <c>sep_token_id</c>. Not thread-safe: a model instance must not be used by two threads at once.</remarks>
    public GenerationResult Generate(Tensor pixelValues, Tensor questionIds, Tensor? questionMask = null,
        GenerationOptions? options = null, bool interpolatePosEncoding = false)
    {
        ArgumentNullException.ThrowIfNull(pixelValues);
        ArgumentNullException.ThrowIfNull(questionIds);
        options ??= GenerationOptions.Default;
        options.Validate();
        var stop = BlipForConditionalGeneration.GenerationStops(Config.TextConfig);
        long bos = Config.TextConfig.RequireBosTokenId();
        using var inference = inference_mode();
        using var scope = NewDisposeScope();
        using var vision = vision_model.forward(pixelValues, interpolatePosEncoding);
        var question = EncodeQuestion(vision.LastHiddenState, questionIds, questionMask);               // [G,T,C]
        var crossMask = MaskQuestionPaddingInDecoder ? questionMask : null;
        var decoder = new CaptionerStepDecoder(text_decoder, question, crossMask);
        var start = full(question.shape[0], 1, bos, dtype: ScalarType.Int64, device: question.device); // [G,1]
        return TextGenerator.Generate(decoder, start, null, options, stop);
    }
}
