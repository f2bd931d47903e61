// Recall@K of image↔text retrieval by ITC similarity.
using Blip.Engine.Models;
using Blip.Engine.Processing;
using static TorchSharp.torch;

namespace Blip.Engine.Training;

/// <summary>End-of-epoch evaluation of a retrieval model.</summary>
/// <remarks>Ranks by ITC similarity only; BLIP's paper re-scores the top k (128/256) with ITM, which this does not.</remarks>
public static class RetrievalEvaluation
{
    /// <summary>Image→text and text→image Recall@1/5/10 over the distinct images and all captions of
    /// <paramref name="examples"/>, named and scaled as BLIP's <c>itm_eval</c> reports them (see <see cref="Recall"/>).</summary>
    /// <param name="model">The retrieval model.</param>
    /// <param name="processor">Preprocesses the images.</param>
    /// <param name="tokenizer">Tokenizes the captions.</param>
    /// <param name="examples">Image and caption pairs; an image may have several captions.</param>
    /// <param name="batchSize">Images, and captions, per forward.</param>
    /// <param name="maxTextLength">Truncate captions to this many tokens, as training does (BLIP evaluates with
    /// <see cref="TrainingOptions.RetrievalMaxTextLength"/>); null: no truncation.</param>
    /// <exception cref="ArgumentException"><paramref name="examples"/> is empty.</exception>
    public static IReadOnlyDictionary<string, double> Run(BlipForImageTextRetrieval model, BlipImageProcessor processor,
        BlipTokenizer tokenizer, IReadOnlyList<CaptionExample> examples, int batchSize, int? maxTextLength = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(processor);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(examples);
        if (examples.Count == 0) throw new ArgumentException("no examples to evaluate (Recall@K of nothing is undefined)", nameof(examples));
        var images = examples.Select(e => e.ImagePath).Distinct().ToList();
        var indexOf = images.Select((path, i) => (path, i)).ToDictionary(x => x.path, x => x.i);
        var imageOf = examples.Select(e => indexOf[e.ImagePath]).ToArray();
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var imageFeats = cat(images.Chunk(batchSize).Select(chunk =>
        {
            using var pixels = processor.Preprocess(chunk);
            using var vision = model.VisionModel.forward(pixels);
            return model.ImageFeatures(vision.LastHiddenState);
        }).ToList());                                                                                           // [I,E]
        var textFeats = cat(examples.Chunk(batchSize).Select(chunk =>
        {
            var (ids, mask) = tokenizer.EncodeBatch(chunk.Select(e => e.Caption).ToList(), maxLength: maxTextLength).ToTensors();
            return model.TextFeatures(ids, mask);
        }).ToList());                                                                                           // [T,E]
        var sim = imageFeats.matmul(textFeats.t());                                                             // [I,T]
        return Recall(sim, imageOf);
    }

    /// <summary>Recall@1/5/10 both ways from a similarity matrix [I,T] and the image index of each text, in percent,
    /// under the names of BLIP's <c>itm_eval</c> (<c>train_retrieval.py</c>): <c>txt_r1</c>, <c>txt_r5</c>,
    /// <c>txt_r10</c> are text retrieval (an image query hits when any of its captions ranks in the top K: the paper's
    /// TR@K), <c>img_r1</c>… image retrieval (a caption query hits when its image ranks in the top K: IR@K), with
    /// <c>txt_r_mean</c>, <c>img_r_mean</c> and <c>r_mean</c> their means.</summary>
    /// <exception cref="ArgumentException">No image or no text, or an image index per text that is missing or out of range.</exception>
    public static IReadOnlyDictionary<string, double> Recall(Tensor similarity, IReadOnlyList<int> imageOfText)
    {
        ArgumentNullException.ThrowIfNull(similarity);
        ArgumentNullException.ThrowIfNull(imageOfText);
        if (similarity.dim() != 2 || similarity.shape[0] == 0 || similarity.shape[1] == 0)
            throw new ArgumentException($"expected a similarity matrix [I,T] with I, T ≥ 1, got [{string.Join(",", similarity.shape)}]", nameof(similarity));
        using var scope = NewDisposeScope();
        int nImages = (int)similarity.shape[0], nTexts = (int)similarity.shape[1];
        if (imageOfText.Count != nTexts) throw new ArgumentException($"{imageOfText.Count} image indices for {nTexts} texts", nameof(imageOfText));
        int bad = imageOfText.ToList().FindIndex(i => i < 0 || i >= nImages);
        if (bad >= 0) throw new ArgumentException($"text {bad}: image index {imageOfText[bad]} is not in [0, {nImages})", nameof(imageOfText));
        var textRank = new int[nTexts];   // rank of the right image for each text
        var imageRank = new int[nImages]; // best rank of any right text for each image
        var byText = similarity.t().argsort(1, descending: true).data<long>().ToArray();   // [T,I]
        var byImage = similarity.argsort(1, descending: true).data<long>().ToArray();      // [I,T]
        for (int t = 0; t < nTexts; t++)
            textRank[t] = Array.IndexOf(byText, (long)imageOfText[t], t * nImages, nImages) - t * nImages;
        for (int i = 0; i < nImages; i++)
        {
            imageRank[i] = int.MaxValue;
            for (int r = 0; r < nTexts; r++)
                if (imageOfText[(int)byImage[i * nTexts + r]] == i) { imageRank[i] = r; break; }
        }
        int[] ks = [1, 5, 10];
        var result = new Dictionary<string, double>();
        foreach (int k in ks) result[$"txt_r{k}"] = 100.0 * imageRank.Count(r => r < k) / nImages;
        result["txt_r_mean"] = ks.Average(k => result[$"txt_r{k}"]);
        foreach (int k in ks) result[$"img_r{k}"] = 100.0 * textRank.Count(r => r < k) / nTexts;
        result["img_r_mean"] = ks.Average(k => result[$"img_r{k}"]);
        result["r_mean"] = (result["txt_r_mean"] + result["img_r_mean"]) / 2;
        return result;
    }
}
