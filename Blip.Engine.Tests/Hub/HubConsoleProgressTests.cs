using Blip.Engine.Checkpoints;

namespace Blip.Engine.Tests.Hub;

public sealed class HubConsoleProgressTests
{
    [Test]
    public void Format_shows_bar_percent_sizes_and_speed()
    {
        string line = HubConsoleProgress.Format(new HubDownloadProgress("model.safetensors", 500_000_000, 1_000_000_000, 25_000_000, false));

        Assert.That(line, Is.EqualTo("model.safetensors [############............]  50.0% 500.0/1000.0 MB 25.00 MB/s"));
    }

    [Test]
    public void Unknown_size_shows_bytes_only()
    {
        string line = HubConsoleProgress.Format(new HubDownloadProgress("vocab.txt", 1_500_000, null, 0, false));

        Assert.That(line, Is.EqualTo("vocab.txt 1.5 MB 0.00 MB/s"));
    }

    [Test]
    public void Report_redraws_one_line_and_ends_it_on_completion()
    {
        using var writer = new StringWriter();
        var progress = new HubConsoleProgress(writer) { MinInterval = TimeSpan.FromHours(1) };

        progress.Report(new HubDownloadProgress("a", 1, 10, 1, false));
        progress.Report(new HubDownloadProgress("a", 5, 10, 1, false)); // throttled
        progress.Report(new HubDownloadProgress("a", 10, 10, 1, true));

        string text = writer.ToString();
        Assert.That(text.Split('\r', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(2));
        Assert.That(text, Does.EndWith(Environment.NewLine).And.Contain("100.0%"));
    }
}
