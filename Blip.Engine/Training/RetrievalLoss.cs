// BLIP's image-text contrastive (ITC) and image-text matching (ITM, hard negatives) losses. transformers has no
// training loss for BlipForImageTextRetrieval, so these follow the original blip_retrieval.py / blip_pretrain.py,
// without the momentum encoder and queue.
using Blip.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>ITC and ITM losses of one batch of image-text pairs (text i describes image i).</summary>
public static class RetrievalLoss
{
    /// <summary>Symmetric contrastive loss: mean of cross-entropies of image→text and text→image similarities / temp.</summary>
    /// <param name="imageFeatures">[B,E] L2-normalised image features.</param>
    /// <param name="textFeatures">[B,E] L2-normalised text features.</param>
    /// <param name="temperature">Scalar (learnable in BLIP, 0.07 at start, clamped to [0.001, 0.5]).</param>
    /// <param name="imageIds">[B] image ids: pairs sharing an id are all positives (targets spread evenly), or null
    /// for the identity (blip_retrieval.py's <c>sim_targets</c>).</param>
    public static Tensor Itc(Tensor imageFeatures, Tensor textFeatures, Tensor temperature, Tensor? imageIds = null)
    {
        ArgumentNullException.ThrowIfNull(imageFeatures);
        ArgumentNullException.ThrowIfNull(textFeatures);
        ArgumentNullException.ThrowIfNull(temperature);
        using var scope = NewDisposeScope();
        var simI2T = imageFeatures.matmul(textFeatures.t()) / temperature; // [B,B]
        var simT2I = textFeatures.matmul(imageFeatures.t()) / temperature; // [B,B]
        var targets = Targets(imageIds, simI2T.shape[0], simI2T.dtype, simI2T.device);
        var lossI2T = -(nn.functional.log_softmax(simI2T, 1) * targets).sum(1).mean();
        var lossT2I = -(nn.functional.log_softmax(simT2I, 1) * targets).sum(1).mean();
        return ((lossI2T + lossT2I) / 2).MoveToOuterDisposeScope();
    }

    /// <summary>Row-normalised positive matrix [B,B].</summary>
    private static Tensor Targets(Tensor? imageIds, long batch, ScalarType dtype, Device device)
    {
        if (imageIds is null) return eye(batch, dtype: dtype, device: device);
        var ids = imageIds.reshape(-1, 1).to(device);
        var same = ids.eq(ids.t()).to(dtype); // [B,B]
        return same / same.sum(1, keepdim: true);
    }

    /// <summary>Samples one hard negative per row from softmax(similarity) with the positives excluded, as BLIP:
    /// <c>weights = softmax(sim) + 1e-4</c> (blip_retrieval.py), zero where the pair is positive, then multinomial.</summary>
    /// <param name="similarity">[B,B] similarities (rows: anchors, columns: candidates), no gradient needed.</param>
    /// <param name="imageIds">[B] image ids (same id = positive), or null for the diagonal.</param>
    /// <param name="generator">Random generator, or null for the default one.</param>
    /// <returns>[B] column index of each row's negative.</returns>
    public static Tensor SampleHardNegatives(Tensor similarity, Tensor? imageIds = null, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(similarity);
        if (similarity.shape[0] < 2) throw new ArgumentException("hard negatives need a batch of at least 2", nameof(similarity));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var positive = imageIds is null
            ? eye(similarity.shape[0], dtype: ScalarType.Bool, device: similarity.device)
            : imageIds.reshape(-1, 1).eq(imageIds.reshape(1, -1)).to(similarity.device);
        var weights = (nn.functional.softmax(similarity.detach().to(ScalarType.Float32), 1) + 1e-4).masked_fill(positive, 0); // [B,B]
        if (!weights.sum(1).gt(0).all().item<bool>()) throw new ArgumentException("a row has no negative (every pair in it is positive)", nameof(imageIds));
        return multinomial(weights, 1, generator: generator).squeeze(1).MoveToOuterDisposeScope(); // [B]
    }

    /// <summary>ITM loss: B positives, B (text, negative image) and B (negative text, image) pairs through the
    /// cross-attending text encoder, <c>itm_head</c> on token 0, cross-entropy against 1 (match) / 0 (no match).</summary>
    /// <param name="model">The retrieval model.</param>
    /// <param name="imageEmbeds">[B,S,Cv] vision last hidden state.</param>
    /// <param name="inputIds">[B,T] ids as tokenized.</param>
    /// <param name="attentionMask">[B,T] mask.</param>
    /// <param name="negativeImageForText">[B] index of the negative image of each text.</param>
    /// <param name="negativeTextForImage">[B] index of the negative text of each image.</param>
    public static Tensor Itm(BlipForImageTextRetrieval model, Tensor imageEmbeds, Tensor inputIds, Tensor attentionMask,
        Tensor negativeImageForText, Tensor negativeTextForImage)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var scope = NewDisposeScope();
        long batch = inputIds.shape[0];
        var ids = cat([inputIds, inputIds, inputIds.index_select(0, negativeTextForImage)]);                     // [3B,T]
        var mask = cat([attentionMask, attentionMask, attentionMask.index_select(0, negativeTextForImage)]);     // [3B,T]
        var images = cat([imageEmbeds, imageEmbeds.index_select(0, negativeImageForText), imageEmbeds]);         // [3B,S,Cv]
        var logits = model.ItmLogits(images, ids, mask);                                                         // [3B,2]
        var labels = cat([ones(batch, dtype: ScalarType.Int64), zeros(2 * batch, dtype: ScalarType.Int64)]).to(logits.device);
        return nn.functional.cross_entropy(logits, labels).MoveToOuterDisposeScope();
    }

    /// <summary>ITC + ITM of one batch with hard negatives sampled by ITC similarity; returns (itc, itm).</summary>
    /// <remarks>A batch of one image (a single example, or captions of one image only: the last batch of an epoch, a
    /// small data set) has no negative to sample; its ITM term is 0 and it trains by ITC alone. The original BLIP, whose
    /// batches are large, would fail in <c>torch.multinomial</c> there.</remarks>
    public static (Tensor Itc, Tensor Itm) Compute(BlipForImageTextRetrieval model, Tensor pixelValues, Tensor inputIds, Tensor attentionMask,
        Tensor temperature, Tensor? imageIds = null, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var scope = NewDisposeScope();
        using var vision = model.VisionModel.forward(pixelValues);
        var image = vision.LastHiddenState;                                 // [B,S,Cv]
        var imageFeat = model.ImageFeatures(image);                         // [B,E]
        var textFeat = model.TextFeatures(inputIds, attentionMask);         // [B,E]
        var itc = Itc(imageFeat, textFeat, temperature, imageIds);
        if (!HasNegatives(inputIds.shape[0], imageIds)) return (itc.MoveToOuterDisposeScope(), zeros_like(itc).MoveToOuterDisposeScope());
        var sim = (imageFeat.matmul(textFeat.t()) / temperature).detach();  // [Bi,Bt]
        var negImage = SampleHardNegatives(sim.t(), imageIds, generator);   // for each text, an image
        var negText = SampleHardNegatives(sim, imageIds, generator);        // for each image, a text
        var itm = Itm(model, image, inputIds, attentionMask, negImage, negText);
        return (itc.MoveToOuterDisposeScope(), itm.MoveToOuterDisposeScope());
    }

    /// <summary>True when some pair of the batch is a negative: two examples, of two images.</summary>
    private static bool HasNegatives(long batch, Tensor? imageIds) =>
        batch > 1 && (imageIds is null || imageIds.ne(imageIds[0]).any().item<bool>());
}
