// Small hand-checkable pieces of training: options, schedule, losses on known inputs, metrics, dataset files.
using Blip.Engine.Processing;
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;

namespace Blip.Engine.Tests.Training;

public sealed class TrainingUnitTests
{
    [TestCase(nameof(TrainingOptions.BatchSize))]
    [TestCase(nameof(TrainingOptions.LearningRate))]
    [TestCase(nameof(TrainingOptions.GradientAccumulation))]
    [TestCase(nameof(TrainingOptions.TextDropout))]
    public void Invalid_options_name_the_field(string field)
    {
        var options = field switch
        {
            nameof(TrainingOptions.BatchSize) => new TrainingOptions { BatchSize = 0 },
            nameof(TrainingOptions.LearningRate) => new TrainingOptions { LearningRate = -1 },
            nameof(TrainingOptions.GradientAccumulation) => new TrainingOptions { GradientAccumulation = 0 },
            _ => new TrainingOptions { TextDropout = 1.5 },
        };
        var e = Assert.Throws<ArgumentException>(() => options.Validate());
        Assert.That(e!.ParamName, Is.EqualTo(field));
        Assert.That(e.Message, Does.Contain(field));
    }

    [TestCase(nameof(TrainingOptions.WeightDecay))]
    [TestCase(nameof(TrainingOptions.Epsilon))]
    [TestCase(nameof(TrainingOptions.MaxGradNorm))]
    public void Infinite_options_name_the_field(string field)
    {
        var options = field switch
        {
            nameof(TrainingOptions.WeightDecay) => new TrainingOptions { WeightDecay = double.PositiveInfinity },
            nameof(TrainingOptions.Epsilon) => new TrainingOptions { Epsilon = double.PositiveInfinity },
            _ => new TrainingOptions { MaxGradNorm = double.PositiveInfinity },
        };
        var e = Assert.Throws<ArgumentException>(() => options.Validate());
        Assert.That(e!.ParamName, Is.EqualTo(field));
    }

    [Test]
    public void A_step_count_beyond_int_names_the_epochs_instead_of_wrapping()
    {
        var options = new TrainingOptions { Epochs = 1_431_655_766, BatchSize = 1 }; // 3 steps an epoch: 2^32 + 2 in all
        var e = Assert.Throws<ArgumentException>(() => TrainingLoop.TotalSteps(options, 3));
        Assert.That(e!.Message, Does.Contain(nameof(TrainingOptions.Epochs)).And.Contain("4294967298"));
        Assert.That(TrainingLoop.TotalSteps(options with { MaxSteps = 5 }, 3), Is.EqualTo(5));
        Assert.That(TrainingLoop.TotalSteps(new TrainingOptions { Epochs = 3, BatchSize = 2, GradientAccumulation = 2 }, 9), Is.EqualTo(9));
    }

    [Test]
    public void Invalid_label_smoothing_names_the_field()
    {
        var e = Assert.Throws<ArgumentException>(() => new CaptionLossSettings { LabelSmoothing = 1.0 }.Validate());
        Assert.That(e!.ParamName, Is.EqualTo(nameof(CaptionLossSettings.LabelSmoothing)));
    }

    [Test]
    public void Freezing_a_part_the_model_lacks_is_refused_naming_it()
    {
        using var model = Blip.Engine.Models.BlipForConditionalGeneration.FromPretrained(TinyFixtures.ModelFolder("captioning"));
        var e = Assert.Throws<ArgumentException>(() => ModelParameters.Trainable(model, ModelParts.Vision | ModelParts.TextEncoder));
        Assert.That(e!.Message, Does.Contain("TextEncoder").And.Contain("BlipForConditionalGeneration").And.Contain("Vision, Decoder"));
        Assert.That(ModelParameters.Trainable(model, ModelParts.Vision).Select(p => p.Name), Has.All.StartWith("text_decoder."));
    }

    // Fixtures/training/schedule.json (tools/reference/make_schedule_fixture.py): the rate transformers'
    // get_cosine_with_min_lr_schedule_with_warmup gives each optimizer step's update, for 8 schedules.
    [Test]
    public void Schedule_gives_each_step_the_rate_transformers_scheduler_gives_it()
    {
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("training", "schedule.json")));
        double worst = 0;
        string at = "";
        foreach (var c in json.RootElement.GetProperty("cases").EnumerateObject())
        {
            var v = c.Value;
            int warmup = v.GetProperty("warmup_steps").GetInt32(), total = v.GetProperty("total_steps").GetInt32();
            double peak = v.GetProperty("peak").GetDouble(), min = v.GetProperty("min").GetDouble();
            var expected = v.GetProperty("lr").EnumerateArray().Select(e => e.GetDouble()).ToList();
            Assert.That(expected, Has.Count.EqualTo(total), c.Name);
            for (int step = 0; step < total; step++)
            {
                double diff = Math.Abs(LearningRateSchedule.At(step, total, warmup, peak, min) - expected[step]) / Math.Max(peak, double.Epsilon);
                if (diff > worst) (worst, at) = (diff, $"{c.Name} step {step}");
            }
        }
        Assert.That(worst, Is.LessThanOrEqualTo(1e-15), $"worst difference relative to the peak: {worst:E2} at {at}");
    }

    [Test]
    public void Schedule_stays_at_the_floor_past_the_last_step()
    {
        Assert.That(LearningRateSchedule.At(110, 110, 10, 1.0, 0.1), Is.EqualTo(0.1).Within(1e-12));
        Assert.That(LearningRateSchedule.At(500, 110, 10, 1.0, 0.1), Is.EqualTo(0.1).Within(1e-12));
    }

    [Test]
    public void Itc_on_orthogonal_features_equals_the_formula()
    {
        using var scope = NewDisposeScope();
        var features = eye(3);
        double t = 0.5;
        var loss = RetrievalLoss.Itc(features, features, tensor((float)t));
        // each row: logits 1/t on the diagonal, 0 elsewhere → -log(e^(1/t) / (e^(1/t) + 2)), both directions equal
        double expected = -Math.Log(Math.Exp(1 / t) / (Math.Exp(1 / t) + 2));
        Assert.That(loss.item<float>(), Is.EqualTo(expected).Within(1e-6));
    }

    [Test]
    public void Itc_with_shared_image_ids_spreads_the_target_over_the_positives()
    {
        using var scope = NewDisposeScope();
        var features = tensor(new float[,] { { 1, 0 }, { 1, 0 } }); // two captions of one image, identical features
        var loss = RetrievalLoss.Itc(features, features, tensor(1f), tensor(new long[] { 7, 7 }));
        Assert.That(loss.item<float>(), Is.EqualTo(Math.Log(2)).Within(1e-6), "uniform over two equal logits, target ½,½");
    }

    [Test]
    public void Hard_negatives_are_never_positives_and_follow_the_similarity()
    {
        using var scope = NewDisposeScope();
        var sim = tensor(new float[,] { { 9, 30, 0, 0 }, { 0, 9, 0, 30 }, { 30, 0, 9, 0 }, { 0, 0, 30, 9 } });
        using var generator = new Generator(1);
        for (int trial = 0; trial < 20; trial++)
        {
            var neg = RetrievalLoss.SampleHardNegatives(sim, generator: generator).data<long>().ToArray();
            Assert.That(neg, Is.EqualTo(new long[] { 1, 3, 0, 2 }), "the most similar non-matching column");
        }
        var ids = tensor(new long[] { 0, 0, 1, 1 }); // rows 0,1 share an image: neither may be the other's negative
        var uniform = zeros(4, 4);
        for (int trial = 0; trial < 20; trial++)
        {
            var neg = RetrievalLoss.SampleHardNegatives(uniform, ids, generator).data<long>().ToArray();
            Assert.That(neg[0] >= 2 && neg[1] >= 2 && neg[2] <= 1 && neg[3] <= 1, Is.True, string.Join(",", neg));
        }
    }

    [Test]
    public void The_blip_recipe_prepends_its_prompt_to_a_caption_without_it_instead_of_masking_the_caption()
    {
        using var tokenizer = BlipTokenizer.Load(TinyFixtures.ModelFolder("captioning"));
        var settings = CaptionLossSettings.OriginalBlip("a picture of ");
        using var plain = CaptionTargets.Build(tokenizer, ["a dog running", "A picture of a dog running"], settings);
        Assert.That(plain.InputIds[0].eq(plain.InputIds[1]).all().item<bool>(), Is.True, "'a dog running' is trained as BLIP's 'a picture of a dog running'");
        Assert.That(plain.Labels[0].eq(plain.Labels[1]).all().item<bool>(), Is.True);
        int promptTokens = tokenizer.Encode("a picture of ").Length - 1;
        Assert.That(plain.Labels[0][promptTokens..].ne(CaptionTargets.IgnoreIndex).sum().item<long>(), Is.EqualTo(tokenizer.Encode("a dog running").Length - 1),
            "every caption token and [SEP] is a label");
    }

    [Test]
    public void Caption_metrics_on_hand_checked_examples()
    {
        IReadOnlyList<IReadOnlyList<string>> refs = [["one red square here"], ["two blue circles there"]];
        Assert.That(CaptionMetrics.ExactMatch(["One red square, here!", "two blue circles"], refs), Is.EqualTo(0.5));
        // a perfect match: 1 up to pycocoevalcap's epsilons ((4 + 1e-15) / (4 + 1e-9)...)
        Assert.That(CaptionMetrics.Bleu4(["one red square here", "two blue circles there"], refs), Is.EqualTo(1.0).Within(1e-9));
        // no match at all: pycocoevalcap's 1e-15 / 1e-9 epsilons leave a tiny positive score, not 0
        Assert.That(CaptionMetrics.Bleu4(["green", "green"], refs), Is.GreaterThan(0).And.LessThan(1e-9));
        // every n-gram is in one of two documents: idf log 2 for all, cosine 1 for n = 1..4, no length penalty → 10
        Assert.That(CaptionMetrics.CiderD(["one red square here", "two blue circles there"], refs), Is.EqualTo(10.0).Within(1e-9));
        Assert.That(CaptionMetrics.CiderD(["green", "green"], refs), Is.Zero);
        // BLEU: 3 of 4 words, brevity exp(1 - 4/3); precisions 6/6, 4/4, 2/2 and no 4-grams: (0 + 1e-15) / (0 + 1e-9) in
        // pycocoevalcap, so not 0 as in unsmoothed BLEU (the fixture tests check this against nltk's counts)
        Assert.That(CaptionMetrics.Bleu4(["one red square", "two blue circles"], refs), Is.EqualTo(Math.Exp(1 - 4.0 / 3) * Math.Pow(1e-6, 0.25)).Within(1e-9));
    }

    [Test]
    public void Jsonl_errors_name_the_file_and_line_and_paths_are_relative_to_it()
    {
        using var dir = TestPaths.NewTempDir();
        string path = Path.Combine(dir.Path, "d.jsonl");
        Directory.CreateDirectory(Path.Combine(dir.Path, "img"));
        File.WriteAllBytes(Path.Combine(dir.Path, "img", "a.png"), []);
        File.WriteAllLines(path, ["{\"image\": \"img/a.png\", \"caption\": \"x\"}", "", "{\"image\": \"img/a.png\", \"caption\": \"y\"}"]);
        var examples = CaptionDataset.LoadJsonl(path);
        Assert.That(examples.Select(e => e.ImagePath), Has.All.EqualTo(Path.Combine(dir.Path, "img", "a.png")));
        Assert.That(examples.Select(e => e.ImageId).Distinct().Count(), Is.EqualTo(1));
        File.AppendAllLines(path, ["{\"image\": 3}"]);
        var e = Assert.Throws<FormatException>(() => CaptionDataset.LoadJsonl(path));
        Assert.That(e!.Message, Does.Contain("d.jsonl:4"));
    }

    [Test]
    public void Karpathy_files_give_one_example_per_caption()
    {
        using var dir = TestPaths.NewTempDir();
        string path = Path.Combine(dir.Path, "coco_karpathy_val.json");
        File.WriteAllText(path, "[{\"image\": \"val2014/1.jpg\", \"caption\": [\"a b\", \"c d\"]}, {\"image\": \"train2014/2.jpg\", \"caption\": \"e f\", \"image_id\": \"coco_2\"}]");
        string root = Path.Combine(dir.Path, "coco");
        foreach (var image in new[] { "val2014/1.jpg", "train2014/2.jpg" })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, image))!);
            File.WriteAllBytes(Path.Combine(root, image), []);
        }
        var examples = CaptionDataset.LoadKarpathy(path, root);
        Assert.That(examples.Select(e => e.Caption), Is.EqualTo(new[] { "a b", "c d", "e f" }));
        Assert.That(examples.Select(e => e.ImageId), Is.EqualTo(new long[] { 0, 0, 1 }));
        Assert.That(examples[2].ImagePath, Is.EqualTo(Path.Combine(root, "train2014", "2.jpg")));
    }

    [Test]
    public void Augmentation_keeps_the_shape_repeats_with_a_seed_and_changes_the_pixels()
    {
        using var scope = NewDisposeScope();
        var pixels = randn(3, 3, 32, 32);
        var a = ImageAugmentation.RandomResizedCropAndFlip(pixels, new Random(4));
        var b = ImageAugmentation.RandomResizedCropAndFlip(pixels, new Random(4));
        Assert.That(a.shape, Is.EqualTo(pixels.shape));
        Assert.That(a.eq(b).all().item<bool>(), Is.True, "same seed, same crops and flips");
        Assert.That(a.eq(pixels).all().item<bool>(), Is.False);
    }
}
