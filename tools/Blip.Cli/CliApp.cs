using System.CommandLine;

namespace Blip.Cli;

/// <summary>Builds the command tree and runs it with the exit-code contract.</summary>
public static class CliApp
{
    /// <summary>Runs <paramref name="args"/>; results to <paramref name="stdout"/>, progress and errors to <paramref name="stderr"/>.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        // Progress and error lines must not fail the command when standard error is closed (2>&-).
        stderr = new BestEffortWriter(stderr);
        // Numbers print the same everywhere (results are parsed by scripts).
        System.Globalization.CultureInfo.CurrentCulture = System.Globalization.CultureInfo.InvariantCulture;
        try
        {
            // `finetune caption|itm` parses its own options (Training owns that command).
            if (args.Length > 0 && args[0] == "finetune") return FinetuneCommand.Run(args[1..], stdout, stderr);
            return RunCommand(args, stdout, stderr);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Only help, version and usage text are written outside the commands' own handlers: standard output failed.
            stderr.WriteLine($"blip: error: cannot write to standard output: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    private static int RunCommand(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("BLIP (Salesforce) in .NET: caption, match, rank, answer and fine-tune, equal to Hugging Face transformers.");
        root.Subcommands.Add(Commands.Caption(stdout, stderr));
        root.Subcommands.Add(Commands.Match(stdout, stderr));
        root.Subcommands.Add(Commands.Rank(stdout, stderr));
        root.Subcommands.Add(Commands.Vqa(stdout, stderr));
        root.Subcommands.Add(Commands.Download(stdout, stderr));
        // Listed for `blip --help` only: `blip finetune ...` never reaches this parser (see above).
        root.Subcommands.Add(new Command("finetune", "fine-tune a captioning or ITM model (blip finetune --help)"));
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors) stderr.WriteLine($"blip: {error.Message}");
            stderr.WriteLine("blip: see 'blip --help'");
            return ExitCodes.Usage;
        }
        // No default handler: it printed a write failure of --help's text as an unhandled exception, stack and all.
        return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
    }
}

/// <summary>The process exit codes.</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>The command ran and failed (bad image, missing model, …).</summary>
    public const int Failure = 1;

    /// <summary>The command line itself is wrong.</summary>
    public const int Usage = 2;
}

/// <summary>A usage error found after parsing (e.g. an option value out of range).</summary>
public sealed class UsageException(string message) : Exception(message);
