// Python's safetensors.safe_open reads what SafeTensorsWriter writes (runs the Python reference).
using System.Diagnostics;
using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Checkpoints;

[Category("Reference")]
public sealed class SafeTensorsReferenceTests : CheckpointTestBase
{
    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Blip.Engine.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Blip.Engine.sln not found above the test directory");
    }

    [Test]
    public void Python_safe_open_reads_our_file()
    {
        string ours = Path.Combine(Dir, "ours.safetensors");
        using (var file = SafeTensorsFile.Open(FixturePath("python_written.safetensors")))
        {
            var tensors = file.Tensors.Keys.Select(k => new KeyValuePair<string, Tensor>(k, file.Load(k))).ToList();
            SafeTensorsWriter.Save(ours, tensors);
            tensors.ForEach(t => t.Value.Dispose());
        }
        string root = RepositoryRoot();
        var start = new ProcessStartInfo(Path.Combine(root, "tools", "reference", "py"))
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("tools/reference/make_safetensors_fixture.py");
        start.ArgumentList.Add("--check");
        start.ArgumentList.Add(ours);
        using var python = Process.Start(start)!;
        string output = python.StandardOutput.ReadToEnd() + python.StandardError.ReadToEnd();
        python.WaitForExit();
        Assert.That(python.ExitCode, Is.Zero, output);
        Assert.That(output, Does.Contain("OK"));
    }
}
