// `blip finetune`'s own contract: usage errors, a caption run that writes the exported model, an itm run.
using Blip.Cli;
using Blip.Engine.Tests.Support;

namespace Blip.Engine.Tests.Training;

[NonParallelizable]
public sealed class FinetuneCommandTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = FinetuneCommand.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [TestCase("caption", "--model", "m", "--train", "t")]
    [TestCase("caption", "--model", "m", "--train", "t", "--output", "o", "--lr", "abc")]
    [TestCase("caption", "--model", "m", "--train", "t", "--output", "o", "--freeze", "wheels")]
    [TestCase("paint", "--model", "m")]
    [TestCase("caption", "--model", "m", "--train", "t.jsonl", "--output", "o", "--prompt", "a photo of")]
    [TestCase("itm", "--model", "m", "--train", "t.jsonl", "--output", "o", "--recipe", "blip")]
    [TestCase("itm", "--model", "m", "--train", "t.jsonl", "--output", "o", "--prompt", "a ")]
    [TestCase("caption", "--model", "m", "--train", "coco_karpathy_train.json", "--output", "o")]
    [TestCase("caption", "--model", "m", "--train", "t.jsonl", "--eval", "coco_karpathy_val.json", "--output", "o")]
    [TestCase("caption", "--model", "m", "--train", "t.jsonl", "--output", "o", "--image-root", "/images")]
    [TestCase("itm", "--model", "m", "--train", "t.jsonl", "--eval", "v.jsonl", "--output", "o", "--image-root", "/images")]
    [TestCase("caption", "--model", "m", "--train", "t.jsonl", "--output", "o", "--freeze", "vision,text-encoder")]
    [TestCase("itm", "--model", "m", "--train", "t.jsonl", "--output", "o", "--freeze", "decoder")]
    public void Usage_errors_exit_2_and_name_the_option(params string[] args)
    {
        var (code, _, error) = Run(args);
        Assert.That(code, Is.EqualTo(2), error);
        Assert.That(error, Does.StartWith("blip finetune: "));
    }

    [Test]
    public void A_bad_training_file_is_named_before_the_model_is_looked_for()
    {
        using var dir = TestPaths.NewTempDir();
        string train = Path.Combine(dir.Path, "t.jsonl");
        File.WriteAllText(train, "not json\n");
        // A seed beyond int is a valid TrainingOptions.Seed (a long), so parsing gets past it to the file.
        var (code, _, error) = Run("caption", "--model", "no-such/model-xyz", "--train", train, "--output", Path.Combine(dir.Path, "out"), "--seed", "5000000000");
        Assert.That(code, Is.EqualTo(1), error);
        Assert.That(error, Does.Contain("t.jsonl:1").And.Not.Contain("no-such/model-xyz"));
    }

    [Test]
    public void A_broken_tokenizer_file_is_exit_1_naming_the_file_and_key_not_a_crash()
    {
        // A broken tokenizer.json once escaped Run (an exception type the command did not list) and ended the process
        // with an unhandled exception (SIGABRT). It is a ConfigException now, a foreseen failure: no type name.
        using var dir = TestPaths.NewTempDir();
        string model = SyntheticCaptions.MakeModelFolder(Path.Combine(dir.Path, "model"));
        File.WriteAllText(Path.Combine(model, "tokenizer.json"), "{\"model\": {\"vocab\": {\"[UNK]\": -1}}}");
        string train = SyntheticCaptions.MakeDataset(dir.Path, "train", 1, seed: 9);
        var (code, _, error) = Run("caption", "--model", model, "--train", train, "--output", Path.Combine(dir.Path, "out"), "--max-steps", "1");
        Assert.That(code, Is.EqualTo(1), error);
        Assert.That(error, Does.Contain("tokenizer.json").And.Contain("field 'model'").And.Not.Contain("Exception"));
        var (verboseCode, _, verbose) = Run("caption", "--model", model, "--train", train, "--output", Path.Combine(dir.Path, "out2"), "--max-steps", "1", "--verbose");
        Assert.That(verboseCode, Is.EqualTo(1), verbose);
        Assert.That(verbose, Does.Contain("ConfigException").And.Contain(" at Blip.Engine."), "--verbose adds the stack trace");
    }

    [TestCase("caption")]
    [TestCase("itm")]
    public void A_run_writes_the_log_the_checkpoint_and_the_exported_model(string task)
    {
        using var dir = TestPaths.NewTempDir();
        string model = task == "caption"
            ? SyntheticCaptions.MakeModelFolder(Path.Combine(dir.Path, "model"))
            : SyntheticCaptions.MakeRetrievalFolder(Path.Combine(dir.Path, "model"));
        string train = SyntheticCaptions.MakeDataset(dir.Path, "train", 1, seed: 9);
        string output = Path.Combine(dir.Path, "out");
        string[] recipe = task == "caption" ? ["--recipe", "blip", "--prompt", "a "] : [];
        var (code, stdout, stderr) = Run([task, "--model", model, "--train", train, "--eval", train, "--output", output,
            "--epochs", "1", "--batch-size", "2", "--lr", "1e-4", "--freeze", "vision", .. recipe]);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout.Trim(), Is.EqualTo(Path.Combine(output, "model")));
        Assert.That(stderr, Does.Contain("2/2").And.Contain("img/s").And.Contain("epoch 0:"));
        Assert.That(File.ReadAllLines(Path.Combine(output, "train_log.jsonl")), Has.Length.EqualTo(3), "two steps and one evaluation");
        foreach (var file in new[] { "config.json", "model.safetensors", "processor_config.json", "vocab.txt", "tokenizer_config.json" })
            Assert.That(File.Exists(Path.Combine(output, "model", file)), Is.True, file);
    }
}
