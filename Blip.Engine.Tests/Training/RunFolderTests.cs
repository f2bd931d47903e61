// What a run leaves in its output folder and what it refuses there: a checkpoint whenever it stops, no second run over
// a first one, no resume from nothing, corrupt checkpoints named, a diverged loss stopped before its update.
using System.Text.Json;
using Blip.Engine.Checkpoints;
using Blip.Engine.Config;
using Blip.Engine.Models;
using Blip.Engine.Processing;
using Blip.Engine.Tests.Support;
using Blip.Engine.Training;

namespace Blip.Engine.Tests.Training;

public sealed class RunFolderTests
{
    private static readonly TrainingOptions Options = new() { Epochs = 1, BatchSize = 2, LearningRate = 1e-4, Seed = 3 };

    private TempDir dir = null!;
    private IReadOnlyList<CaptionExample> train = null!;

    [OneTimeSetUp]
    public void MakeData()
    {
        dir = TestPaths.NewTempDir();
        train = CaptionDataset.LoadJsonl(SyntheticCaptions.MakeDataset(dir.Path, "train", 2, seed: 3)); // 8 examples: 4 steps
    }

    [OneTimeTearDown]
    public void Cleanup() => dir.Dispose();

    private TrainingResult Run(string output, TrainingOptions options, bool resume = false, Action<BlipForConditionalGeneration>? change = null,
        IReadOnlyList<CaptionExample>? data = null, IReadOnlyList<CaptionExample>? eval = null)
    {
        string modelDir = TinyFixtures.ModelFolder("captioning");
        using var model = BlipForConditionalGeneration.FromPretrained(modelDir);
        change?.Invoke(model);
        using var tokenizer = BlipTokenizer.Load(modelDir);
        var trainer = new CaptionTrainer(model, tokenizer, new BlipImageProcessor(ImageProcessorConfig.Load(modelDir)), options);
        return trainer.Train(data ?? train, output, eval, resume: resume);
    }

    private string NewOutput() => Path.Combine(dir.Path, Guid.NewGuid().ToString("N"));

    internal static TrainerState SavedState(string output) =>
        JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(output, "checkpoint", "trainer_state.json")))!;

    [Test]
    public void Stopping_at_max_steps_mid_epoch_leaves_a_checkpoint_to_resume_from()
    {
        string output = NewOutput();
        Assert.That(Run(output, Options with { MaxSteps = 1 }).Steps, Is.EqualTo(1));
        var saved = SavedState(output);
        Assert.That((saved.Step, saved.Epoch, saved.BatchInEpoch, saved.Seed, saved.BatchSize, saved.Examples), Is.EqualTo((1, 0, 1, Options.Seed, 2, 8)),
            "step 1 done, one batch of epoch 0 used");
        var rest = Run(output, Options with { MaxSteps = 2 }, resume: true);
        Assert.That((rest.Steps, rest.Losses.Count), Is.EqualTo((2, 1)), "the resumed run did step 2 only");
    }

    [Test]
    public void Resuming_from_no_checkpoint_is_an_error()
    {
        string output = NewOutput();
        var e = Assert.Throws<FileNotFoundException>(() => Run(output, Options with { MaxSteps = 1 }, resume: true));
        Assert.That(e!.Message, Does.Contain(Path.Combine(output, "checkpoint")));
        Assert.That(File.Exists(Path.Combine(output, "train_log.jsonl")), Is.False, "nothing was trained");
    }

    [Test]
    public void A_fresh_run_refuses_the_folder_of_another_run_and_leaves_it_as_it_was()
    {
        string output = NewOutput();
        Run(output, Options with { MaxSteps = 1 });
        string log = File.ReadAllText(Path.Combine(output, "train_log.jsonl"));
        var e = Assert.Throws<IOException>(() => Run(output, Options with { MaxSteps = 2 }));
        Assert.That(e!.Message, Does.Contain(output).And.Contain("resume"));
        Assert.That(File.ReadAllText(Path.Combine(output, "train_log.jsonl")), Is.EqualTo(log));
        Assert.That(SavedState(output).Step, Is.EqualTo(1));
    }

    [Test]
    public void Resuming_with_another_seed_is_an_error()
    {
        string output = NewOutput();
        Run(output, Options with { MaxSteps = 1 });
        var e = Assert.Throws<ArgumentException>(() => Run(output, Options with { MaxSteps = 2, Seed = 4 }, resume: true));
        Assert.That(e!.Message, Does.Contain("Seed").And.Contain("3").And.Contain("4"));
        Assert.That(SavedState(output).Step, Is.EqualTo(1));
    }

    [Test]
    public void Resuming_with_another_batch_size_or_training_set_is_an_error()
    {
        // The saved position counts batches into the seed's shuffle of the examples: with another batch size or set
        // the resumed run would skip other examples than those it trained on.
        string output = NewOutput();
        Run(output, Options with { MaxSteps = 1 });
        var size = Assert.Throws<ArgumentException>(() => Run(output, Options with { MaxSteps = 2, BatchSize = 4 }, resume: true));
        Assert.That(size!.Message, Does.Contain("BatchSize 2").And.Contain("with 4"));
        var fewer = Assert.Throws<ArgumentException>(() => Run(output, Options with { MaxSteps = 2 }, resume: true, data: train.Take(6).ToList()));
        Assert.That(fewer!.Message, Does.Contain("8 examples").And.Contain("with 6"));
        var edited = train.Select((e, i) => i == 3 ? e with { Caption = e.Caption + " again" } : e).ToList();
        var other = Assert.Throws<ArgumentException>(() => Run(output, Options with { MaxSteps = 2 }, resume: true, data: edited));
        Assert.That(other!.Message, Does.Contain("another training set"));
        Assert.That(SavedState(output).Step, Is.EqualTo(1), "the checkpoint is untouched");
        Assert.That(Run(output, Options with { MaxSteps = 2 }, resume: true).Steps, Is.EqualTo(2), "the same settings still resume");
    }

    [Test]
    public void A_checkpoint_that_records_only_the_seed_still_resumes()
    {
        string output = NewOutput();
        Run(output, Options with { MaxSteps = 1 });
        string state = Path.Combine(output, "checkpoint", "trainer_state.json");
        File.WriteAllText(state, """{"Step": 1, "Epoch": 0, "BatchInEpoch": 1, "Seed": 3}""");
        Assert.That(Run(output, Options with { MaxSteps = 2 }, resume: true).Steps, Is.EqualTo(2));
        Assert.That(SavedState(output).Examples, Is.EqualTo(8), "the new checkpoint records the set");
    }

    [TestCase("trainer_state.json", "{broken")]
    [TestCase("trainer_state.json", "null")]
    [TestCase("trainer_state.json", "[1]")]
    [TestCase("trainer_state.json", "{\"Step\": -5, \"Epoch\": 0, \"BatchInEpoch\": 1, \"Seed\": 3}")]
    [TestCase("trainer_state.json", "{\"Step\": 1, \"Epoch\": 0, \"BatchInEpoch\": -1, \"Seed\": 3}")]
    [TestCase("optimizer.bin", "truncate")]
    [TestCase("optimizer.bin", "delete")]
    [TestCase("rng.safetensors", "wrong")]
    public void A_corrupt_checkpoint_is_named_when_resuming(string file, string corruption)
    {
        string output = NewOutput();
        Run(output, Options with { MaxSteps = 1 });
        string path = Path.Combine(output, "checkpoint", file);
        if (corruption == "truncate") File.WriteAllBytes(path, File.ReadAllBytes(path)[..100]);
        else if (corruption == "delete") File.Delete(path);
        else if (corruption == "wrong") SafeTensorsWriter.Save(path, [new("cpu", zeros(3))]);
        else File.WriteAllText(path, corruption);
        var e = Assert.Throws<CheckpointFormatException>(() => Run(output, Options with { MaxSteps = 2 }, resume: true));
        Assert.That(e!.Message, Does.Contain(path));
    }

    [Test]
    public void An_evaluation_image_that_fails_to_decode_names_the_checkpoint_of_the_finished_epoch()
    {
        string data = Path.Combine(dir.Path, "bad-eval-data");
        var eval = CaptionDataset.LoadJsonl(SyntheticCaptions.MakeDataset(data, "eval", 1, seed: 4));
        File.WriteAllBytes(eval[0].ImagePath, [0x89, 0x50, 0x4E, 0x47]);
        string output = NewOutput();
        var e = Assert.Throws<TrainingInterruptedException>(() => Run(output, Options, eval: eval));
        Assert.That((e!.CompletedSteps, e.Epoch, e.Checkpoint), Is.EqualTo((4, 0, Path.Combine(output, "checkpoint"))), e.Message);
        Assert.That(e.InnerException, Is.InstanceOf<ImageDecodeException>(), e.ToString());
        Assert.That(e.Message, Does.Contain(eval[0].ImagePath));
        Assert.That((SavedState(output).Step, SavedState(output).Epoch), Is.EqualTo((4, 1)), "the epoch's end was saved before the evaluation");
    }

    [Test]
    public void A_loss_that_is_not_finite_stops_the_run_before_its_update_and_names_the_step()
    {
        string output = NewOutput();
        var e = Assert.Throws<TrainingDivergedException>(() => Run(output, Options, change: model =>
        {
            using var noGrad = no_grad();
            model.named_parameters().First(p => p.name.StartsWith("text_decoder.", StringComparison.Ordinal)).parameter.fill_(double.NaN);
        }));
        Assert.That((e!.Step, e.Epoch), Is.EqualTo((1, 0)));
        Assert.That(e.Message, Does.Contain("NaN").And.Contain("step 1"));
        Assert.That(File.ReadAllText(Path.Combine(output, "train_log.jsonl")), Is.Empty, "no step was logged");
    }
}
