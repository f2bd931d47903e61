// The matching/retrieval front door: ITM probability, ITC cosine, and BLIP's retrieval procedure (rank by ITC,
// re-score the top k with ITM) over embeddings computed once.
using Blip.Engine.Models;
using Blip.Engine.Processing;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Pipelines;

/// <summary>Image-text matching with a <c>blip-itm-*</c> checkpoint.</summary>
/// <remarks>Thread-safe: calls are serialised on one lock.</remarks>
public sealed class BlipMatcher : BlipPipeline<BlipForImageTextRetrieval>
{
    // Texts per text-encoder call in EmbedTexts. Measured on the 2-vCPU machine of docs/BENCHMARKS.md, 1,000
    // captions at full size sorted by length: 64 per call 20.4 s, 250 per call 25 s (bigger activations cost page faults).
    private const int TextChunk = 64;

    // Texts tokenized together in EmbedTexts (and sorted by length among themselves).
    private const int TokenizeGroup = 4096;

    private bool _useEncToken;

    private BlipMatcher(ModelContext context, BlipForImageTextRetrieval model) : base(context, model)
    {
    }

    /// <summary>Opens a model folder or a Hub id.</summary>
    public static Task<BlipMatcher> OpenAsync(string modelIdOrPath, BlipLoadOptions? options = null, CancellationToken cancellationToken = default) =>
        OpenAsync(modelIdOrPath, options, (f, d, t) => BlipForImageTextRetrieval.FromPretrained(f, d, t, memoryMap: true), (c, m) => new BlipMatcher(c, m), cancellationToken);

    /// <summary>Synchronous <see cref="OpenAsync"/>.</summary>
    public static BlipMatcher Open(string modelIdOrPath, BlipLoadOptions? options = null) =>
        OpenAsync(modelIdOrPath, options).GetAwaiter().GetResult();

    /// <summary>Use <c>[ENC]</c> instead of <c>[CLS]</c> as the first ITM token, as the original BLIP does
    /// (transformers keeps <c>[CLS]</c>; default false).</summary>
    /// <exception cref="InvalidOperationException">Set to true when the tokenizer has no <c>[ENC]</c> token.</exception>
    public bool UseEncToken
    {
        get => _useEncToken;
        set => _useEncToken = !value || Context.Tokenizer.EncTokenId is not null ? value
            : throw new InvalidOperationException("UseEncToken needs an [ENC] token, and this model's tokenizer has none.");
    }

    /// <summary>ITM and ITC of every text against one image (no texts: an empty list, the image still read).</summary>
    public IReadOnlyList<MatchResult> Match(string imagePath, IReadOnlyList<string> texts)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagePath);
        ArgumentNullException.ThrowIfNull(texts);
        using var image = EmbedImage(imagePath);
        if (texts.Count == 0) return [];
        using var textFeatures = EmbedTexts(texts);
        return Locked(() =>
        {
            var logits = ItmLogits(image.States, texts, texts).to(ScalarType.Float32).cpu();          // [N,2]
            var probability = logits.softmax(-1)[.., 1];                                               // [N], as ItmProbabilities
            var cosine = textFeatures.Features.matmul(image.Feature).to(ScalarType.Float32).cpu();   // [N]
            return texts.Select((text, i) => new MatchResult(imagePath, text,
                [logits[i, 0].item<float>(), logits[i, 1].item<float>()], probability[i].item<float>(), cosine[i].item<float>())).ToList();
        });
    }

    /// <summary>Encodes an image once for scoring against many texts.</summary>
    public ImageEmbedding EmbedImage(string imagePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagePath);
        return Locked(() =>
        {
            var vision = Model.VisionModel.forward(Context.Pixels([imagePath]));   // its tensors are in this scope
            var feature = Model.ImageFeatures(vision.LastHiddenState)[0];                               // [E]
            return new ImageEmbedding(imagePath, vision.LastHiddenState.DetachFromDisposeScope(), feature.DetachFromDisposeScope());
        });
    }

    /// <summary>Encodes texts once (without an image) for scoring against many images.</summary>
    /// <remarks>The embeddings keep a copy of <paramref name="texts"/>: the caller's list may change afterwards.</remarks>
    public TextEmbeddings EmbedTexts(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        // Rank labels and re-scores feature i with Texts[i]: a live view of a list the caller reuses would pair them wrongly.
        var copy = texts.ToArray().AsReadOnly();
        return Locked(() =>
        {
            // Tokenized a group at a time (one long text pads only its group), sorted by length within it.
            var groups = copy.Chunk(TokenizeGroup).Select(group =>
            {
                var (ids, mask) = Context.Tokens(group, call: copy);
                return Model.TextFeatures(ids, mask, TextChunk);                                       // [n,E]
            }).ToList();
            var features = groups.Count == 0
                ? empty(0, Model.Config.ImageTextHiddenSize, dtype: Context.DType, device: Context.Device)        // [0,E]
                : cat(groups, dim: 0);
            return new TextEmbeddings(copy, features.DetachFromDisposeScope());
        });
    }

    /// <summary>BLIP's retrieval: every text ranked by ITC cosine, then the top <paramref name="topK"/> re-scored with
    /// ITM and put first by match probability.</summary>
    public IReadOnlyList<RankedText> Rank(ImageEmbedding image, TextEmbeddings texts, int topK = 16)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentOutOfRangeException.ThrowIfNegative(topK);
        image.ThrowIfDisposed();
        texts.ThrowIfDisposed();
        ThrowIfForeign(image, nameof(image), nameof(image));
        ThrowIfForeign(texts.Features, $"the embeddings of {texts.Texts.Count} texts", nameof(texts));
        return Locked(() =>
        {
            var cosine = texts.Features.matmul(image.Feature).to(ScalarType.Float32).cpu().data<float>().ToArray();
            var order = Enumerable.Range(0, cosine.Length).OrderByDescending(i => cosine[i]).ToList();
            var top = order.Take(topK).ToList();
            var probability = new Dictionary<int, float>();
            if (top.Count > 0)
            {
                var itm = ItmProbabilities(image.States, top.Select(i => texts.Texts[i]).ToList(), texts.Texts);
                for (int j = 0; j < top.Count; j++) probability[top[j]] = itm[j].item<float>();
            }
            var rescored = top.OrderByDescending(i => probability[i]);
            return rescored.Concat(order.Skip(top.Count))
                .Select(i => new RankedText(i, texts.Texts[i], cosine[i], probability.TryGetValue(i, out var p) ? p : null)).ToList();
        });
    }

    /// <summary>Every image ranked for one text by ITC cosine; the top <paramref name="topK"/> re-scored with ITM.</summary>
    public IReadOnlyList<RankedImage> RankImages(IReadOnlyList<ImageEmbedding> images, string text, int topK = 16)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(text);
        ArgumentOutOfRangeException.ThrowIfNegative(topK);
        for (int i = 0; i < images.Count; i++)
        {
            (images[i] ?? throw new ArgumentException($"images[{i}] is null.", nameof(images))).ThrowIfDisposed();
            ThrowIfForeign(images[i], $"images[{i}]", nameof(images));
        }
        using var textFeature = EmbedTexts([text]);
        return Locked(() =>
        {
            var cosine = images.Select(img => textFeature.Features[0].dot(img.Feature).to(ScalarType.Float32).item<float>()).ToArray();
            var order = Enumerable.Range(0, images.Count).OrderByDescending(i => cosine[i]).ToList();
            var top = order.Take(topK).ToList();
            var probability = top.ToDictionary(i => i, i => ItmProbabilities(images[i].States, [text], [text])[0].item<float>());
            return top.OrderByDescending(i => probability[i]).Concat(order.Skip(top.Count))
                .Select(i => new RankedImage(i, images[i].Image, cosine[i], probability.TryGetValue(i, out var p) ? p : null)).ToList();
        });
    }

    /// <summary>softmax(ITM logits)[:, 1] [N] on the CPU, taken in float32 whatever the model's dtype, as
    /// <see cref="Match"/> takes it: a bfloat16 softmax rounded a pair's probability differently in Rank than in Match.
    /// The texts of the public call (<c>call</c>) decide how <c>texts</c> are tokenized (ModelContext.Tokens).</summary>
    private Tensor ItmProbabilities(Tensor states, IReadOnlyList<string> texts, IReadOnlyList<string> call) =>
        ItmLogits(states, texts, call).to(ScalarType.Float32).cpu().softmax(-1)[.., 1];

    // An embedding made by a matcher of another dtype, device or model: libtorch's matmul of a float32 by a bfloat16
    // tensor ends the process (its c10::Error is thrown through TorchSharp's matmul), so the mismatch is named here.
    private void ThrowIfForeign(ImageEmbedding image, string what, string paramName)
    {
        ThrowIfForeign(image.Feature, $"{what} ('{image.Image}')", paramName);
        long width = Model.Config.VisionConfig.HiddenSize;
        if (image.States.dim() != 3 || image.States.shape[2] != width || image.States.dtype != image.Feature.dtype)
            throw new ArgumentException($"{what} ('{image.Image}') has vision states {image.States.dtype} [{string.Join(",", image.States.shape)}]; " +
                $"this matcher's are {Context.DType} [1,S,{width}]: embed the image with this matcher", paramName);
    }

    private void ThrowIfForeign(Tensor features, string what, string paramName)
    {
        long width = Model.Config.ImageTextHiddenSize;
        bool sameDevice = features.device_type == Context.Device.type && (Context.Device.index < 0 || features.device_index == Context.Device.index);
        if (features.dtype != Context.DType || !sameDevice || features.shape.Length == 0 || features.shape[^1] != width)
            throw new ArgumentException($"{what} is {features.dtype} [{string.Join(",", features.shape)}] on {features.device}; this matcher's " +
                $"embeddings are {Context.DType} [..,{width}] on {Context.Device}: embed with this matcher (or one opened with the same model, dtype and device)", paramName);
    }

    private Tensor ItmLogits(Tensor states, IReadOnlyList<string> texts, IReadOnlyList<string> call)
    {
        var (ids, mask) = Context.Tokens(texts, call);
        if (UseEncToken)
        {
            // Each row's [CLS], wherever its tokens start (column 0 unless the tokenizer pads on the left).
            var first = TokenBatch.FirstTokenColumn(mask);                                             // [N,1]
            ids.scatter_(1, first, full(first.shape, (long)Context.Tokenizer.EncTokenId!.Value, dtype: ScalarType.Int64, device: ids.device));
        }
        return Model.ItmLogits(states, ids, mask);                                                     // [N,2]
    }
}
