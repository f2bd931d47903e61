// ITC + ITM fine-tuning of the retrieval model, and Recall@K.
using Blip.Engine.Config;
using Blip.Engine.Models;
using Blip.Engine.Processing;
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;

namespace Blip.Engine.Tests.Training;

public sealed class RetrievalTrainerTests
{
    [Test]
    public void Recall_at_k_counts_ranks_both_ways_under_blips_names_in_percent()
    {
        using var scope = NewDisposeScope();
        // 2 images, 3 texts (texts 0,1 of image 0; text 2 of image 1)
        var sim = tensor(new float[,] { { 0.9f, 0.1f, 0.5f }, { 0.2f, 0.8f, 0.4f } });
        var r = RetrievalEvaluation.Recall(sim, [0, 0, 1]);
        // BLIP's itm_eval: txt_r* is text retrieval (an image query, a hit if any of its captions is in the top K).
        // img0's best text is t0 ✓; img1's texts by score: t1 (of image 0), t2 → rank 1, a miss at 1.
        Assert.That(r["txt_r1"], Is.EqualTo(50.0));
        Assert.That(r["txt_r5"], Is.EqualTo(100.0));
        Assert.That(r["txt_r_mean"], Is.EqualTo((50.0 + 100 + 100) / 3).Within(1e-12));
        // img_r* is image retrieval (a text query): t0 → img0 (rank 0) ✓, t1 → img1 first ✗, t2 → img0 first ✗.
        Assert.That(r["img_r1"], Is.EqualTo(100.0 / 3).Within(1e-12));
        Assert.That(r["img_r10"], Is.EqualTo(100.0));
        Assert.That(r["img_r_mean"], Is.EqualTo((100.0 / 3 + 100 + 100) / 3).Within(1e-12));
        Assert.That(r["r_mean"], Is.EqualTo((r["txt_r_mean"] + r["img_r_mean"]) / 2).Within(1e-12));
    }

    [TestCase(0, 0, new int[0])]
    [TestCase(2, 3, new[] { 0, 1 })]
    [TestCase(2, 2, new[] { 0, 2 })]
    [TestCase(2, 2, new[] { 0, -1 })]
    public void Recall_of_no_texts_or_of_texts_without_a_valid_image_is_refused(int images, int texts, int[] imageOfText)
    {
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => RetrievalEvaluation.Recall(zeros(images, texts), imageOfText));
        Assert.That(e!.ParamName, Is.EqualTo("imageOfText").Or.EqualTo("similarity"));
    }

    [Test]
    public void Retrieval_evaluation_of_no_examples_is_refused()
    {
        using var model = BlipForImageTextRetrieval.FromPretrained(TinyFixtures.ModelFolder("retrieval"));
        using var tokenizer = BlipTokenizer.Load(TinyFixtures.ModelFolder("retrieval"));
        var processor = new BlipImageProcessor(ImageProcessorConfig.Load(TinyFixtures.ModelFolder("retrieval")));
        var e = Assert.Throws<ArgumentException>(() => RetrievalEvaluation.Run(model, processor, tokenizer, [], 4));
        Assert.That(e!.ParamName, Is.EqualTo("examples"));
    }

    [Test]
    public void Itc_itm_fine_tuning_runs_checkpoints_the_temperature_and_evaluates_recall()
    {
        using var dir = TestPaths.NewTempDir();
        string modelDir = SyntheticCaptions.MakeRetrievalFolder(Path.Combine(dir.Path, "model"));
        var data = CaptionDataset.LoadJsonl(SyntheticCaptions.MakeDataset(dir.Path, "train", 2, seed: 4)); // 8 examples
        using var model = BlipForImageTextRetrieval.FromPretrained(modelDir);
        using var tokenizer = BlipTokenizer.Load(modelDir);
        var options = new TrainingOptions { Epochs = 2, BatchSize = 4, LearningRate = 1e-3, Seed = 2 };
        using var trainer = new RetrievalTrainer(model, tokenizer, new BlipImageProcessor(ImageProcessorConfig.Load(modelDir)), options);
        string output = Path.Combine(dir.Path, "run");
        var result = trainer.Train(data, output, data);
        TestContext.Out.WriteLine($"losses {string.Join(", ", result.Losses)}; temperature {trainer.Temperature}; eval {string.Join(", ", result.Evaluations[^1])}");
        Assert.That(result.Steps, Is.EqualTo(4));
        Assert.That(result.Losses, Has.All.Matches<double>(l => double.IsFinite(l) && l > 0));
        Assert.That(trainer.Temperature, Is.Not.EqualTo(0.07).Within(1e-7).And.InRange(0.001, 0.5));
        Assert.That(File.Exists(Path.Combine(output, "checkpoint", "extra.safetensors")), Is.True);
        Assert.That(result.Evaluations[^1].Keys, Is.EquivalentTo(new[] { "txt_r1", "txt_r5", "txt_r10", "txt_r_mean", "img_r1", "img_r5", "img_r10", "img_r_mean", "r_mean" }));
    }

    [Test]
    public void A_resumed_run_draws_the_hard_negatives_an_uninterrupted_one_draws()
    {
        using var dir = TestPaths.NewTempDir();
        string modelDir = SyntheticCaptions.MakeRetrievalFolder(Path.Combine(dir.Path, "model"));
        var data = CaptionDataset.LoadJsonl(SyntheticCaptions.MakeDataset(dir.Path, "train", 2, seed: 4)); // 8 examples
        // Batches of 4: each caption's negative image is a draw among 3, and each image's negative caption too.
        var options = new TrainingOptions { Epochs = 2, BatchSize = 4, LearningRate = 1e-3, Seed = 2, CheckpointEvery = 1 };
        var processor = new BlipImageProcessor(ImageProcessorConfig.Load(modelDir));
        using var tokenizer = BlipTokenizer.Load(modelDir);
        (BlipForImageTextRetrieval Model, double Temperature) Run(string output, bool resume, Action<TrainingProgress>? progress = null)
        {
            var model = BlipForImageTextRetrieval.FromPretrained(modelDir);
            using var trainer = new RetrievalTrainer(model, tokenizer, processor, options) { Progress = progress };
            try
            {
                trainer.Train(data, output, resume: resume);
                return (model, trainer.Temperature);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }

        var (reference, temperature) = Run(Path.Combine(dir.Path, "reference"), false);
        using var a = reference;
        string output = Path.Combine(dir.Path, "run");
        Assert.Throws<InvalidOperationException>(() => Run(output, false, p =>
        {
            if (p.Step == 1) throw new InvalidOperationException("simulated crash after step 1");
        }));
        var (resumed, resumedTemperature) = Run(output, true);
        using var b = resumed;
        TrainerTests.AssertSameWeights(a, b, "resumed after step 1");
        Assert.That(resumedTemperature, Is.EqualTo(temperature));
    }

    [Test]
    public void A_model_off_the_cpu_is_refused()
    {
        string modelDir = TinyFixtures.ModelFolder("retrieval");
        using var model = BlipForImageTextRetrieval.FromPretrained(modelDir);
        model.to(new Device(TorchSharp.DeviceType.META));
        using var tokenizer = BlipTokenizer.Load(modelDir);
        var processor = new BlipImageProcessor(ImageProcessorConfig.Load(modelDir));
        var e = Assert.Throws<ArgumentException>(() => new RetrievalTrainer(model, tokenizer, processor, new TrainingOptions { BatchSize = 2 }).Dispose());
        Assert.That((e!.ParamName, e.Message.Contains("meta", StringComparison.Ordinal)), Is.EqualTo(("model", true)), e.Message);
    }

    [Test]
    public void Evaluation_truncates_captions_as_training_does_so_an_overlong_one_is_scored()
    {
        // BLIP's retrieval tokenizes with max_length=35 in training and evaluation; an evaluation that did not truncate
        // failed at the end of the epoch on a caption past the tokenizer's 512 tokens.
        using var dir = TestPaths.NewTempDir();
        string modelDir = TinyFixtures.ModelFolder("retrieval");
        var data = CaptionDataset.LoadJsonl(SyntheticCaptions.MakeDataset(dir.Path, "train", 1, seed: 4)); // 4 images
        var eval = data.Select((x, i) => i == 0 ? x with { Caption = string.Join(' ', Enumerable.Repeat("dog", 600)) } : x).ToList();
        using var model = BlipForImageTextRetrieval.FromPretrained(modelDir);
        using var tokenizer = BlipTokenizer.Load(modelDir);
        var processor = new BlipImageProcessor(ImageProcessorConfig.Load(modelDir));
        Assert.Throws<ArgumentException>(() => RetrievalEvaluation.Run(model, processor, tokenizer, eval, 4));
        var options = new TrainingOptions { BatchSize = 4, LearningRate = 1e-4, Seed = 1 };
        Assert.That(options.MaxTextLength, Is.Null);
        using var trainer = new RetrievalTrainer(model, tokenizer, processor, options);

        var result = trainer.Train(data, Path.Combine(dir.Path, "run"), eval);

        Assert.That(result.Evaluations[^1]["r_mean"], Is.InRange(0, 100));
        var cut = RetrievalEvaluation.Run(model, processor, tokenizer, eval, 4, TrainingOptions.RetrievalMaxTextLength);
        Assert.That(cut, Is.EqualTo(result.Evaluations[^1]));
    }

    [Test]
    public void A_batch_of_one_image_trains_by_itc_alone_and_a_set_of_one_image_is_refused()
    {
        using var dir = TestPaths.NewTempDir();
        string modelDir = TinyFixtures.ModelFolder("retrieval");
        var four = CaptionDataset.LoadJsonl(SyntheticCaptions.MakeDataset(dir.Path, "train", 1, seed: 4)); // 4 images
        using var model = BlipForImageTextRetrieval.FromPretrained(modelDir);
        using var tokenizer = BlipTokenizer.Load(modelDir);
        var processor = new BlipImageProcessor(ImageProcessorConfig.Load(modelDir));
        var options = new TrainingOptions { BatchSize = 2, LearningRate = 1e-4, Seed = 1 };
        // batches {0,1}, {2,2}: one image only, {3}: one example
        var data = new[] { four[0], four[1], four[2], four[2] with { Caption = "another caption" }, four[3] };
        using var trainer = new RetrievalTrainer(model, tokenizer, processor, options);
        var arranged = new CaptionExample[data.Length]; // so that the loader's shuffle yields data in the order above
        foreach (var (index, position) in TrainingLoop.Order(data.Length, options.Seed, 0).Select((x, k) => (x, k))) arranged[index] = data[position];
        var result = trainer.Train(arranged, Path.Combine(dir.Path, "run"));
        Assert.That(result.Steps, Is.EqualTo(3));
        Assert.That(result.Losses, Has.All.Matches<double>(double.IsFinite));
        var one = new[] { four[0], four[0] with { Caption = "again" } };
        var e = Assert.Throws<ArgumentException>(() => trainer.Train(one, Path.Combine(dir.Path, "one")));
        Assert.That(e!.Message, Does.Contain("one image"));
    }
}
