// The trainer's mechanics on the synthetic task: repeatability, resume after a crash, freezing, the log, the export.
using System.Text.Json;
using Blip.Engine.Checkpoints;
using Blip.Engine.Config;
using Blip.Engine.Models;
using Blip.Engine.Processing;
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;

namespace Blip.Engine.Tests.Training;

public sealed class TrainerTests
{
    private TempDir dir = null!;
    private string modelDir = null!;
    private IReadOnlyList<CaptionExample> train = null!;

    private static readonly TrainingOptions Options = new()
    {
        Epochs = 2, BatchSize = 2, GradientAccumulation = 2, LearningRate = 1e-3, WarmupSteps = 1, TextDropout = 0.1,
        CheckpointEvery = 1, Seed = 5, Loss = CaptionLossSettings.OriginalBlip(prompt: ""),
    };

    [OneTimeSetUp]
    public void MakeTask()
    {
        dir = TestPaths.NewTempDir();
        modelDir = SyntheticCaptions.MakeModelFolder(Path.Combine(dir.Path, "model"));
        train = CaptionDataset.LoadJsonl(SyntheticCaptions.MakeDataset(dir.Path, "train", 2, seed: 3)); // 8 examples
    }

    [OneTimeTearDown]
    public void Cleanup() => dir.Dispose();

    private (BlipForConditionalGeneration Model, TrainingResult Result) Run(string output, TrainingOptions options, bool resume = false,
        Action<TrainingProgress>? progress = null, IReadOnlyList<CaptionExample>? data = null)
    {
        var model = BlipForConditionalGeneration.FromPretrained(modelDir);
        using var tokenizer = BlipTokenizer.Load(modelDir);
        var trainer = new CaptionTrainer(model, tokenizer, new BlipImageProcessor(ImageProcessorConfig.Load(modelDir)), options) { Progress = progress };
        try
        {
            return (model, trainer.Train(data ?? train, output, resume: resume));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    internal static void AssertSameWeights(TorchSharp.torch.nn.Module expected, TorchSharp.torch.nn.Module actual, string what)
    {
        var a = ModelParameters.StateDict(expected).ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (name, t) in ModelParameters.StateDict(actual))
            Assert.That(t.eq(a[name]).all().item<bool>(), Is.True, $"{what}: {name} differs (max |diff| {(t - a[name]).abs().max().item<float>()})");
    }

    [Test]
    public void A_seed_repeats_a_run_and_a_resumed_run_equals_an_uninterrupted_one()
    {
        var (first, result) = Run(Path.Combine(dir.Path, "a"), Options);
        using var a = first;
        Assert.That(result.Steps, Is.EqualTo(4));
        using var again = Run(Path.Combine(dir.Path, "a2"), Options).Model;
        AssertSameWeights(a, again, "same seed");

        string output = Path.Combine(dir.Path, "b");
        Assert.Throws<InvalidOperationException>(() => Run(output, Options, progress: p =>
        {
            if (p.Step == 3) throw new InvalidOperationException("simulated crash after step 3");
        }));
        var (resumed, rest) = Run(output, Options, resume: true);
        using var b = resumed;
        Assert.That(rest.Steps, Is.EqualTo(4));
        Assert.That(rest.Losses, Has.Count.EqualTo(1), "only step 4 remained");
        AssertSameWeights(a, b, "resumed");

        var lines = File.ReadAllLines(Path.Combine(output, "train_log.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(lines.Select(l => l.GetProperty("step").GetInt32()), Is.EqualTo(new[] { 1, 2, 3, 4 }));
        Assert.That(lines.All(l => l.GetProperty("loss").GetDouble() > 0), Is.True);
        // one warm-up step from 0, as transformers' scheduler: the first update's rate is 0, the others' are not
        Assert.That(lines[0].GetProperty("lr").GetDouble(), Is.Zero);
        Assert.That(lines.Skip(1).All(l => l.GetProperty("lr").GetDouble() > 0), Is.True);
        Assert.That(Directory.Exists(Path.Combine(output, "checkpoint.tmp")) || Directory.Exists(Path.Combine(output, "checkpoint.old")), Is.False);
    }

    [Test]
    public void An_epochs_short_last_accumulation_group_steps_on_the_mean_of_its_batches()
    {
        // Adam with an epsilon far above the gradients steps by lr·m/ε, linear in the gradient, so a gradient scaled
        // wrongly shows in the weights (with the usual ε the first steps are ±lr whatever the scale).
        var linear = Options with
        {
            Epochs = 1, TextDropout = null, LearningRate = 1e3, Epsilon = 1e3, WeightDecay = 0, MaxGradNorm = null,
            WarmupSteps = 0, CheckpointEvery = 0,
        };
        // 8 examples in batches of 2, 3 a step: steps of 3 batches and then of the last one.
        var (grouped, groupedResult) = Run(Path.Combine(dir.Path, "accumulate-3"), linear with { BatchSize = 2, GradientAccumulation = 3 });
        using var a = grouped;
        // The same examples in the same order as batches of 6 and 2, one a step (the captions are of one length, so a
        // batch of 6 has the mean loss of its three batches of 2).
        var (whole, wholeResult) = Run(Path.Combine(dir.Path, "accumulate-1"), linear with { BatchSize = 6, GradientAccumulation = 1 });
        using var b = whole;
        Assert.That(groupedResult.Steps, Is.EqualTo(2));
        Assert.That(wholeResult.Steps, Is.EqualTo(2));
        Assert.That(groupedResult.Losses, Is.EqualTo(wholeResult.Losses).Within(1e-5));
        using var scope = NewDisposeScope();
        var theirs = ModelParameters.StateDict(b).ToDictionary(kv => kv.Key, kv => kv.Value);
        var (worst, name) = ModelParameters.StateDict(a).Select(kv => ((kv.Value - theirs[kv.Key]).abs().max().item<float>(), kv.Key)).Max();
        TestContext.Out.WriteLine($"max |accumulated - whole batch| {worst:g3} at {name}");
        Assert.That(worst, Is.LessThan(1e-5), $"{name} differs by {worst}");
    }

    [Test]
    public void A_resumed_run_logs_each_step_once_after_a_kill_past_its_checkpoint()
    {
        string output = Path.Combine(dir.Path, "killed");
        var options = Options with { CheckpointEvery = 2 };
        Assert.Throws<InvalidOperationException>(() => Run(output, options, progress: p =>
        {
            if (p.Step == 3) throw new InvalidOperationException("simulated crash after step 3");
        }));
        string log = Path.Combine(output, "train_log.jsonl");
        // As a process killed after logging step 3 (checkpoint of step 2) in the middle of its next line leaves it.
        File.AppendAllText(log, "{\"step\": 4, \"epo");
        using var resumed = Run(output, options, resume: true).Model;
        var steps = File.ReadAllLines(log).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32());
        Assert.That(steps, Is.EqualTo(new[] { 1, 2, 3, 4 }));
    }

    [Test]
    public void A_model_off_the_cpu_is_refused_naming_a_weight_and_its_device()
    {
        // libtorch's meta device stands in for a GPU, which this machine lacks: any device but the CPU is refused.
        using var model = BlipForConditionalGeneration.FromPretrained(modelDir);
        model.to(new TorchSharp.torch.Device(TorchSharp.DeviceType.META));
        using var tokenizer = BlipTokenizer.Load(modelDir);
        var processor = new BlipImageProcessor(ImageProcessorConfig.Load(modelDir));
        var e = Assert.Throws<ArgumentException>(() => _ = new CaptionTrainer(model, tokenizer, processor, Options));
        Assert.That(e!.ParamName, Is.EqualTo("model"));
        Assert.That(e.Message, Does.Contain("vision_model.embeddings.class_embedding").And.Contain("meta").And.Contain("CPU"));
    }

    [Test]
    public void With_augmentation_a_run_resumed_mid_epoch_equals_an_uninterrupted_one()
    {
        var options = Options with { Augment = true, Epochs = 1, GradientAccumulation = 1 }; // 4 steps, 4 batches
        var (first, _) = Run(Path.Combine(dir.Path, "augment-reference"), options);
        using var reference = first;
        string output = Path.Combine(dir.Path, "augment");
        Assert.Throws<InvalidOperationException>(() => Run(output, options, progress: p =>
        {
            if (p.Step == 2) throw new InvalidOperationException("simulated crash after step 2");
        }));
        var (resumed, rest) = Run(output, options, resume: true);
        using var b = resumed;
        Assert.That(rest.Losses, Has.Count.EqualTo(2), "steps 3-4 remained");
        AssertSameWeights(reference, b, "resumed mid-epoch with augmentation (the crops of batches 3-4 as before)");
    }

    [Test]
    public void An_image_that_fails_to_decode_mid_run_saves_the_last_step_and_a_resume_after_fixing_it_equals_an_uninterrupted_run()
    {
        // Only epoch ends are checkpointed, so the one step taken before the bad image is saved by nothing else.
        var options = Options with { CheckpointEvery = 0 };
        string data = Path.Combine(dir.Path, "bad-image-data");
        var examples = CaptionDataset.LoadJsonl(SyntheticCaptions.MakeDataset(data, "train", 2, seed: 3));
        var (first, _) = Run(Path.Combine(dir.Path, "bad-image-reference"), options, data: examples);
        using var reference = first;

        // Batch 4 of epoch 0 (examples 6 and 7 of its order) holds the bad image: batches 1-2 make step 1, batch 3 is
        // accumulated when batch 4 fails to load.
        string victim = examples[TrainingLoop.Order(examples.Count, options.Seed, 0)[6]].ImagePath;
        byte[] good = File.ReadAllBytes(victim);
        File.WriteAllBytes(victim, good[..100]);
        string output = Path.Combine(dir.Path, "bad-image");
        var e = Assert.Throws<TrainingInterruptedException>(() => Run(output, options, data: examples));
        Assert.That((e!.CompletedSteps, e.Epoch, e.Checkpoint), Is.EqualTo((1, 0, Path.Combine(output, "checkpoint"))), e.Message);
        Assert.That(e.InnerException, Is.InstanceOf<ImageDecodeException>(), e.ToString());
        Assert.That(e.Message, Does.Contain(victim).And.Contain("after step 1").And.Contain(Path.Combine(output, "checkpoint")));
        var saved = RunFolderTests.SavedState(output);
        Assert.That((saved.Step, saved.Epoch, saved.BatchInEpoch), Is.EqualTo((1, 0, 2)), "step 1, after two batches of epoch 0");

        File.WriteAllBytes(victim, good);
        var (resumed, rest) = Run(output, options, resume: true, data: examples);
        using var b = resumed;
        Assert.That((rest.Steps, rest.Losses.Count), Is.EqualTo((4, 3)), "steps 2-4 remained");
        AssertSameWeights(reference, b, "resumed after the bad image (dropout draws included)");
    }

    [Test]
    public void A_failure_before_any_step_says_there_is_nothing_to_resume()
    {
        string data = Path.Combine(dir.Path, "bad-first-data");
        var examples = CaptionDataset.LoadJsonl(SyntheticCaptions.MakeDataset(data, "train", 2, seed: 3));
        string victim = examples[TrainingLoop.Order(examples.Count, Options.Seed, 0)[0]].ImagePath;
        File.WriteAllBytes(victim, [0x42, 0x4D, 1, 2, 3]);
        string output = Path.Combine(dir.Path, "bad-first");
        var e = Assert.Throws<TrainingInterruptedException>(() => Run(output, Options, data: examples));
        Assert.That((e!.CompletedSteps, e.Checkpoint), Is.EqualTo((0, (string?)null)), e.Message);
        Assert.That(e.Message, Does.Contain(victim).And.Contain("nothing to resume"));
        Assert.That(Directory.Exists(Path.Combine(output, "checkpoint")), Is.False);
    }

    [Test]
    public void Freezing_the_vision_encoder_leaves_it_unchanged_and_trains_the_decoder()
    {
        using var before = BlipForConditionalGeneration.FromPretrained(modelDir);
        var (model, _) = Run(Path.Combine(dir.Path, "frozen"), Options with { Epochs = 1, Freeze = ModelParts.Vision, TextDropout = null });
        using var after = model;
        var old = ModelParameters.StateDict(before).ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (name, t) in ModelParameters.StateDict(after))
        {
            bool same = t.eq(old[name]).all().item<bool>();
            if (name.StartsWith("vision_model.", StringComparison.Ordinal)) Assert.That(same, Is.True, $"{name} changed while frozen");
            else if (name.EndsWith(".weight", StringComparison.Ordinal) && !name.Contains("position", StringComparison.Ordinal))
                Assert.That(same, Is.False, $"{name} did not train");
        }
    }

    [Test]
    public void No_decay_group_holds_biases_and_LayerNorm_weights_only()
    {
        using var model = BlipForConditionalGeneration.FromPretrained(modelDir);
        var names = ModelParameters.Trainable(model, ModelParts.None).Select(x => x.Name).ToList();
        Assert.That(names, Does.Not.Contain("text_decoder.cls.predictions.decoder.weight"), "the tied alias is trained once, as the embeddings");
        Assert.That(names.Where(ModelParameters.IsNoDecay), Has.All.Matches<string>(n => n.EndsWith("bias", StringComparison.Ordinal) ||
            n.Contains("LayerNorm", StringComparison.Ordinal) || n.Contains("layer_norm", StringComparison.Ordinal) || n.Contains("layernorm", StringComparison.Ordinal)));
        Assert.That(ModelParameters.IsNoDecay("text_decoder.bert.encoder.layer.0.attention.output.LayerNorm.weight"), Is.True);
        Assert.That(ModelParameters.IsNoDecay("vision_model.encoder.layers.0.layer_norm1.weight"), Is.True);
        Assert.That(ModelParameters.IsNoDecay("vision_model.encoder.layers.0.self_attn.qkv.weight"), Is.False);
        Assert.That(ModelParameters.IsNoDecay("text_decoder.bert.embeddings.word_embeddings.weight"), Is.False);
    }

    [Test]
    public void Export_holds_transformers_keys_without_tied_aliases_and_loads_back_with_equal_logits()
    {
        using var model = BlipForConditionalGeneration.FromPretrained(modelDir);
        string output = Path.Combine(dir.Path, "export");
        HubExport.Save(model, modelDir, output);
        using (var file = SafeTensorsFile.Open(Path.Combine(output, "model.safetensors")))
        using (var source = SafeTensorsFile.Open(Path.Combine(modelDir, "model.safetensors")))
            Assert.That(file.Tensors.Keys.Order(), Is.EqualTo(source.Tensors.Keys.Order()));
        Assert.That(File.Exists(Path.Combine(output, "config.json")) && File.Exists(Path.Combine(output, "vocab.txt")) &&
                    File.Exists(Path.Combine(output, "processor_config.json")), Is.True);
        using var loaded = BlipForConditionalGeneration.FromPretrained(output);
        using var scope = NewDisposeScope();
        var pixels = randn(1, 3, 64, 64);
        var ids = tensor(new long[,] { { 1038, 1, 5 } });
        TensorAssert.AllClose(model.Forward(pixels, ids), loaded.Forward(pixels, ids), 0, 0, "logits after export");
    }

    [Test, NonParallelizable]
    public void Training_leaves_no_tensor_alive_on_the_training_thread()
    {
        var options = Options with { Epochs = 2, CheckpointEvery = 0, TextDropout = null, GradientAccumulation = 1 };
        Run(Path.Combine(dir.Path, "warm"), options).Model.Dispose();
        using var model = BlipForConditionalGeneration.FromPretrained(modelDir);
        using var tokenizer = BlipTokenizer.Load(modelDir);
        var trainer = new CaptionTrainer(model, tokenizer, new BlipImageProcessor(ImageProcessorConfig.Load(modelDir)), options);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var result = trainer.Train(train, Path.Combine(dir.Path, "leak"));
        long after = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        TestContext.Out.WriteLine($"live tensors on this thread {before} -> {after} over {result.Steps} steps");
        // The loader thread creates each batch's pixels and this thread disposes them: −1 per batch here, +1 there.
        Assert.That(after - before, Is.EqualTo(-result.Steps));
    }
}
