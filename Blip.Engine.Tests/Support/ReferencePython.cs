using System.Diagnostics;

namespace Blip.Engine.Tests.Support;

/// <summary>Runs a script of <c>tools/reference</c> in the Python reference (tests of category Reference only).</summary>
public static class ReferencePython
{
    /// <summary>Runs <c>tools/reference/py SCRIPT ARGS</c> from the repository root; returns its exit code and output.</summary>
    public static (int ExitCode, string Output) Run(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(TestPaths.RepoRoot, "tools", "reference", "py"))
        {
            WorkingDirectory = TestPaths.RepoRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var python = Process.Start(start)!;
        var stderr = python.StandardError.ReadToEndAsync();
        string output = python.StandardOutput.ReadToEnd();
        python.WaitForExit();
        return (python.ExitCode, output + stderr.Result);
    }
}
